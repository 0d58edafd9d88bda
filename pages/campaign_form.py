"""The one campaign-options form, drawn by the Campaigns page (every option) and the Runs page (the common
ones, under its own widget keys). Labels, help, defaults, choices and limits come from `CampaignConfig`'s
fields (its `field_specs` and the `min`/`max`/`above`/`below` of their metadata), the way the Train form is
generated from the training config, so both pages offer the same choices within the same limits as the
config a script would make. A value the config refuses at a limit it excludes (a share of 1) is refused
when the campaign is made, with the config's own message."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from annotations.campaigns import SELECTIONS, CampaignConfig, Criterion
from annotations.fields import widget_bounds
from ft_core.config import field_specs
from pages.campaign_state import planner_before_data
from pages.i18n import UI_LANGUAGES

_SPECS = {spec.name: spec for spec in field_specs(CampaignConfig)}
_LIMITS = {f.name: f.metadata for f in dataclasses.fields(CampaignConfig)}
SHARE_STEP = 0.05  # the sliders of the gold and repeat shares
SELECTION_WORDS = {
    "all": "all",
    "random": "a random sample",
    "critical": "critical: largest metric disagreement",
}


def _label(name: str) -> str:
    return _SPECS[name].label


def _help(name: str) -> str:
    return _SPECS[name].help


def _default(name: str) -> Any:
    return _SPECS[name].default


def widget_limits(name: str) -> tuple[Any, Any]:
    """(lowest, highest) a widget of the field offers: the config's limits, an excluded bound included (the
    config then refuses it with its message); None where the config sets none."""
    low, high = widget_bounds(_LIMITS[name])
    number = float if _SPECS[name].annotation is float else int
    return (None if low is None else number(low)), (None if high is None else number(high))


def _number(where, name: str, key: str, value: Any = None, **more: Any):
    """A number input of one field: its label, help, default and limits from CampaignConfig."""
    low, high = widget_limits(name)
    value = _default(name) if value is None else value
    if isinstance(value, float) or _SPECS[name].annotation is float:
        value = float(value)
    more.setdefault("help", _help(name))
    return where.number_input(_label(name), min_value=low, max_value=high, value=value, key=key, **more)


def _share(where, name: str, key: str) -> float:
    """A slider of one share field, over the config's range in steps of SHARE_STEP."""
    low, high = widget_limits(name)
    return float(where.slider(_label(name), low, high, float(_default(name)), SHARE_STEP, key=key))


@dataclass
class CampaignOptions:
    """What the form holds; `config_fields()` turns it into CampaignConfig keyword arguments (call it where a
    bad value is shown as an error: it parses the criteria table and the gold lines)."""

    values: dict[str, Any]
    criteria_table: pd.DataFrame | None = None
    gold_text: str = ""
    systems_text: str = ""  # comma-separated; empty: system_a and system_b only

    def config_fields(self) -> dict[str, Any]:
        fields = dict(self.values)
        if "items_per_annotator" in fields:
            fields["items_per_annotator"] = int(fields["items_per_annotator"]) or None
        if self.criteria_table is not None:
            fields["criteria"] = [
                Criterion(
                    str(r["name"]).strip(),
                    str(r.get("description") or ""),
                    int(r["min_score"]),
                    int(r["max_score"]),
                )
                for r in self.criteria_table.dropna(subset=["name"]).to_dict("records")
                if str(r["name"]).strip()
            ]
        gold = {}
        for line in self.gold_text.splitlines():
            if line.strip():
                item_id, _, winner = line.partition(",")
                gold[item_id.strip()] = winner.strip()
        if gold:
            fields["gold_items"] = gold
        systems = [name.strip() for name in self.systems_text.split(",") if name.strip()]
        if systems:
            fields["systems"] = systems
        return fields


def campaign_options(prefix: str = "", *, every_option: bool = True) -> CampaignOptions:
    """Draw the campaign options (besides name, outputs and systems); widget keys are `prefix` + field name.

    every_option=False draws the common ones (items, k, reference, gold and repeat shares, text limit); the
    others stay at CampaignConfig's defaults."""
    values: dict[str, Any] = {}
    sel_col, n_col, seed_col = st.columns(3) if every_option else (st, st, None)
    values["selection"] = sel_col.selectbox(
        _label("selection"),
        _SPECS["selection"].choices or SELECTIONS,
        format_func=SELECTION_WORDS.get,
        key=f"{prefix}selection",
    )
    values["n_items"] = int(
        _number(n_col, "n_items", f"{prefix}n_items", disabled=values["selection"] == "all")
    )
    if seed_col is not None:
        values["sample_seed"] = int(
            _number(seed_col, "sample_seed", f"{prefix}sample_seed", disabled=values["selection"] != "random")
        )
    options = CampaignOptions(values)
    if every_option:
        st.markdown(
            "**Criteria** (besides the overall choice A / B / tie / both bad): each output gets a score"
        )
        options.criteria_table = st.data_editor(
            pd.DataFrame([vars(c) for c in _default("criteria")]),
            num_rows="dynamic",
            key=f"{prefix}criteria",
            hide_index=True,
            column_config={
                "min_score": st.column_config.NumberColumn(step=1),
                "max_score": st.column_config.NumberColumn(step=1),
            },
        )
    values["language"] = st.selectbox(
        "Language of the texts and of the annotators' page",
        list(UI_LANGUAGES),
        index=list(UI_LANGUAGES).index(_default("language")),
        format_func=UI_LANGUAGES.get,
        key=f"{prefix}language",
        help="Annotators see buttons, messages and the default instructions and criteria in this language.",
    )
    values["show_reference"] = st.checkbox(
        _label("show_reference"), value=_default("show_reference"), key=f"{prefix}show_reference"
    )
    if every_option:
        values["instructions"] = st.text_area(
            _label("instructions"), value=_default("instructions"), key=f"{prefix}instructions"
        )
    k_col, quota_col, lease_col = st.columns(3) if every_option else (st, None, None)
    values["k"] = int(_number(k_col, "k", f"{prefix}k"))
    if quota_col is not None and lease_col is not None:
        values["items_per_annotator"] = int(
            _number(quota_col, "items_per_annotator", f"{prefix}items_per_annotator", value=0)
        )
        values["lease_minutes"] = float(_number(lease_col, "lease_minutes", f"{prefix}lease_minutes"))
    limit_col, cut_col, comment_col = st.columns(3) if every_option else (st, st, None)
    values["max_text_chars"] = int(_number(limit_col, "max_text_chars", f"{prefix}max_text_chars", step=1000))
    values["truncate_long_texts"] = cut_col.checkbox(
        _label("truncate_long_texts"),
        value=_default("truncate_long_texts"),
        key=f"{prefix}truncate_long_texts",
        help="The campaign records how many texts were cut.",
    )
    if comment_col is not None:
        values["max_comment_chars"] = int(
            _number(comment_col, "max_comment_chars", f"{prefix}max_comment_chars")
        )
    g_col, r_col = st.columns(2) if every_option else (st, st)
    if every_option:
        options.gold_text = g_col.text_area(
            "Gold items: one `item_id,winner` per line (winner: a system, tie or both_bad)",
            key=f"{prefix}gold",
        )
    values["gold_rate"] = _share(g_col, "gold_rate", f"{prefix}gold_rate")
    values["repeat_rate"] = _share(r_col, "repeat_rate", f"{prefix}repeat_rate")
    if every_option:
        _stopping_rule(values, prefix)
        options.systems_text = st.text_input(
            f"{_label('systems')}: comma-separated, e.g. base, sft, dpo (empty: System A and System B only)",
            key=f"{prefix}systems",
            help=_help("systems"),
        )
    return options


def _stopping_rule(values: dict[str, Any], prefix: str) -> None:
    """The anytime-valid stop's two settings, chosen before any result is seen, and the planner's figure."""
    margin_col, close_col = st.columns(2)
    values["equivalence_margin"] = float(
        _number(margin_col, "equivalence_margin", f"{prefix}equivalence_margin", step=0.01)
    )
    values["close_when_decided"] = close_col.checkbox(
        _label("close_when_decided"),
        value=_default("close_when_decided"),
        key=f"{prefix}close_when_decided",
        help=_help("close_when_decided"),
    )
    planner_before_data()  # no human data yet: the conservative human-only figure

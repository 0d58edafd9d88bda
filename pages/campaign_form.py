"""The one campaign-options form, drawn by the Campaigns page (every option) and the Runs page (the common ones,
under its own widget keys). Labels, help and defaults come from `CampaignConfig`'s fields, so both pages offer the
same choices with the same defaults as the config a script would make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from annotations.campaigns import SELECTIONS, CampaignConfig, Criterion
from ft_core.config import field_specs
from pages.i18n import UI_LANGUAGES

_SPECS = {spec.name: spec for spec in field_specs(CampaignConfig)}
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


@dataclass
class CampaignOptions:
    """What the form holds; `config_fields()` turns it into CampaignConfig keyword arguments (call it where a
    bad value is shown as an error: it parses the criteria table and the gold lines)."""

    values: dict[str, Any]
    criteria_table: pd.DataFrame | None = None
    gold_text: str = ""

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
        return fields


def campaign_options(prefix: str = "", *, every_option: bool = True) -> CampaignOptions:
    """Draw the campaign options (besides name, outputs and systems); widget keys are `prefix` + field name.

    every_option=False draws the common ones (items, k, reference, gold and repeat shares, text limit); the others
    stay at CampaignConfig's defaults."""
    values: dict[str, Any] = {}
    sel_col, n_col, seed_col = st.columns(3) if every_option else (st, st, None)
    values["selection"] = sel_col.selectbox(
        _label("selection"), SELECTIONS, format_func=SELECTION_WORDS.get, key=f"{prefix}selection"
    )
    values["n_items"] = int(
        n_col.number_input(
            _label("n_items"), min_value=1, value=_default("n_items"), key=f"{prefix}n_items",
            help=_help("n_items"), disabled=values["selection"] == "all",
        )
    )  # fmt: skip
    if seed_col is not None:
        values["sample_seed"] = int(
            seed_col.number_input(
                _label("sample_seed"), min_value=0, value=_default("sample_seed"), key=f"{prefix}sample_seed",
                disabled=values["selection"] != "random",
            )
        )  # fmt: skip
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
    values["k"] = int(
        k_col.number_input(_label("k"), min_value=1, value=_default("k"), key=f"{prefix}k", help=_help("k"))
    )
    if quota_col is not None and lease_col is not None:
        values["items_per_annotator"] = int(
            quota_col.number_input(
                _label("items_per_annotator"), min_value=0, value=0, key=f"{prefix}items_per_annotator"
            )
        )
        values["lease_minutes"] = float(
            lease_col.number_input(
                _label("lease_minutes"), min_value=1.0, value=_default("lease_minutes"), key=f"{prefix}lease_minutes"
            )
        )  # fmt: skip
    limit_col, cut_col, comment_col = st.columns(3) if every_option else (st, st, None)
    values["max_text_chars"] = int(
        limit_col.number_input(
            _label("max_text_chars"), min_value=100, value=_default("max_text_chars"), step=1000,
            key=f"{prefix}max_text_chars",
        )
    )  # fmt: skip
    values["truncate_long_texts"] = cut_col.checkbox(
        _label("truncate_long_texts"),
        value=_default("truncate_long_texts"),
        key=f"{prefix}truncate_long_texts",
        help="The campaign records how many texts were cut.",
    )
    if comment_col is not None:
        values["max_comment_chars"] = int(
            comment_col.number_input(
                _label("max_comment_chars"), min_value=1, value=_default("max_comment_chars"),
                key=f"{prefix}max_comment_chars",
            )
        )  # fmt: skip
    g_col, r_col = st.columns(2) if every_option else (st, st)
    if every_option:
        options.gold_text = g_col.text_area(
            "Gold items: one `item_id,winner` per line (winner: a system, tie or both_bad)",
            key=f"{prefix}gold",
        )
    values["gold_rate"] = float(
        g_col.slider(_label("gold_rate"), 0.0, 0.5, _default("gold_rate"), 0.05, key=f"{prefix}gold_rate")
    )
    values["repeat_rate"] = float(
        r_col.slider(
            _label("repeat_rate"), 0.0, 0.5, _default("repeat_rate"), 0.05, key=f"{prefix}repeat_rate"
        )
    )
    return options

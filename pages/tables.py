"""How the researchers' pages draw a statistic's table: a header a person reads ("Median time per pair (s)",
not `median_s`), usernames where the frame holds user ids, and "—" in an empty cell with a line saying why.

Only what `st.dataframe` draws changes: the frames keep their columns and their ids, because the analysis is
keyed by ids and the export and outside checks read those columns. Headers go through `column_config` labels,
empty cells through `placeholder`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pandas as pd
import streamlit as st

from annotations.accounts.users import list_users

EMPTY = "—"  # what an empty cell shows (Streamlit writes "None")
# Columns that hold user ids, shown as usernames.
ID_COLUMNS = ("annotator_id", "annotator_1", "annotator_2", "created_by", "used_by")

# Headers: {ci} is the interval's name ("95% CI"), {system} and {opponent} the campaign's two systems.
LABELS = {
    # who
    "annotator_id": "Annotator",
    "annotator_1": "Annotator 1",
    "annotator_2": "Annotator 2",
    "user_id": "User id",
    "username": "Username",
    "role": "Role",
    "active": "Active",
    "must_change_password": "Must change password",
    "created_at": "Created",
    "created_by": "Created by",
    "used_by": "Used by",
    "used_at": "Used",
    "expires_at": "Expires",
    "token": "Link",
    # the annotators' quality checks
    "n_judgments": "Judgments",
    "median_s": "Median time per pair (s)",
    "fast_share": "Fast answers",
    "left_share": "Left chosen",
    "left": "Left chosen",
    "left_p": "Left chosen (p)",
    "p_value": "p",
    "gold_n": "Gold items",
    "gold_accuracy": "Gold accuracy",
    "repeat_n": "Repeats",
    "self_consistency": "Same on repeats",
    "majority_n": "Majority items",
    "majority_agreement": "Agrees with majority",
    "flags": "Flags",
    "flagged": "Flagged",
    "excluded": "Excluded",
    # intervals, agreement
    "ci_low": "{ci} low",
    "ci_high": "{ci} high",
    "target": "What is rated",
    "level": "Level",
    "alpha": "Krippendorff's alpha",
    "alpha_without": "Alpha without this annotator",
    "n_units": "Items",
    "n_annotators": "Annotators",
    "n_values": "Values",
    "observed": "Observed agreement",
    "kappa": "Cohen's kappa",
    "n_boot": "Bootstrap resamples",
    "n_boot_undefined": "Resamples without a value",
    "seed": "Seed",
    "confidence": "Coverage",
    "half_width": "Interval half-width",
    "reason": "Why empty",
    # metrics and correlations
    "metric": "Metric",
    "value": "Value",
    "human": "Human score",
    "method": "Method",
    "coefficient": "Coefficient",
    "n": "n",
    "n_items": "Items",
    "n_skipped": "Groups skipped (constant)",
    "ci_method": "Interval method",
    "accuracy": "Pairwise accuracy",
    "n_human_ties": "Human ties",
    "n_metric_ties": "Metric ties",
    "mean_opponent": "Mean, {opponent}",
    "mean_system": "Mean, {system}",
    "delta": "Difference",
    "share_system_higher": "{system} higher",
    "criterion": "Criterion",
    "mean_diff": "Mean difference",
    "t_low": "t interval low",
    "t_high": "t interval high",
    "t_p": "t-test p",
    # judgments
    "item_id": "Item",
    "choice": "Choice",
    "winner": "Winner",
    "shown_left": "Shown left",
    "shown_right": "Shown right",
    "comment": "Comment",
    "version": "Version",
    "served_at": "Served",
    "submitted_at": "Submitted",
}
# What a short header means, shown when the pointer rests on it.
HELP = {
    "fast_share": "Share of this annotator's judgments given faster than the quality check's too-fast "
    "threshold",
    "left_share": "Share of decisive judgments that chose the left output (about 0.5 expected: sides are "
    "random)",
    "left_p": "Two-sided binomial test of the left share against 0.5",
    "gold_accuracy": "Share of gold items judged as their known winner",
    "self_consistency": "Share of flipped repeats judged the same way as the first time",
    "majority_n": "Items this annotator judged where the others reached a majority",
    "majority_agreement": "Share of those items where this annotator chose as the majority did",
    "delta": "{system} − {opponent}, mean over the items",
    "mean_diff": "{system} − {opponent}",
    "share_system_higher": "Share of items where {system} scores higher than {opponent}",
    "n_skipped": "Groups where a coefficient is undefined (constant scores), skipped and counted",
}
SHARES = (
    "fast_share",
    "left_share",
    "gold_accuracy",
    "self_consistency",
    "majority_agreement",
    "share_system_higher",
    "accuracy",
)
# Number formats (printf, or Streamlit's names): shares as percentages, p-values to three significant digits,
# seconds to a tenth.
FORMATS = {"median_s": "%.1f", "left_p": "%.3g", "p_value": "%.3g", "t_p": "%.3g", "seed": "%d"}
FORMATS.update(dict.fromkeys(SHARES, "percent"))


def _filled(text: str, context: Mapping[str, str]) -> str:
    try:
        return text.format(**context)
    except KeyError:  # a header that names what this table did not say: the plain words
        return text.replace("{", "").replace("}", "")


def label(column: str, **context: str) -> str:
    """The header of a column: its entry in LABELS (filled from `context`), else its name in words."""
    text = LABELS.get(column)
    if text is None:
        return column.replace("_", " ").strip().capitalize()
    return _filled(text, context)


def usernames(con) -> dict[str, str]:
    """user_id -> username of every account (disabled ones too), for tables that hold user ids."""
    accounts = list_users(con)
    return dict(zip(accounts["user_id"], accounts["username"]))


def named(ids: pd.Series, names: Mapping[str, str]) -> pd.Series:
    """Ids as usernames; a value that is no account's id (e.g. 'first start', 'all') stays as it is."""
    return ids.map(lambda i: names.get(i, i) if isinstance(i, str) else i)


def with_usernames(frame: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """A copy of `frame` whose user-id columns hold usernames."""
    columns = [c for c in ID_COLUMNS if c in frame.columns]
    return frame.assign(**{c: named(frame[c], names) for c in columns}) if columns else frame


def analysis_with_usernames(analysis, names: Mapping[str, str]):
    """A shallow copy of a CampaignAnalysis whose annotator ids read as usernames, for the sentences of
    `annotations.report.interpret`; the analysis itself (kept on disk, exported) keeps the ids."""
    evidence = dataclasses.replace(
        analysis.evidence,
        excluded_annotators=[names.get(a, a) for a in analysis.evidence.excluded_annotators],
    )
    biases = dataclasses.replace(
        analysis.biases, annotators=with_usernames(analysis.biases.annotators, names)
    )
    return dataclasses.replace(analysis, biases=biases, evidence=evidence)


def column_config(
    frame: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    widths: Mapping[str, int | str] | None = None,
    **context: str,
) -> dict:
    """st.dataframe's column_config for `frame`: every column with its header (`labels` overrides LABELS) and
    the width `widths` gives it (pixels, or "small" / "medium" / "large"; else sized to its content)."""
    config = {}
    for column in frame.columns:
        header = (labels or {}).get(column) or label(str(column), **context)
        options = {"help": _filled(HELP[column], context) if column in HELP else None}
        if widths and column in widths:
            options["width"] = widths[column]
        if pd.api.types.is_float_dtype(frame[column]) or column in FORMATS:
            config[column] = st.column_config.NumberColumn(
                header, format=FORMATS.get(column, "%.3f"), **options
            )
        else:
            config[column] = st.column_config.Column(header, **options)
    return config


def _numbers(column: pd.Series) -> pd.Series:
    """A column of numbers and Nones (an object column) as floats, so it gets a number format; others as
    they are."""
    values = column.dropna()
    if (
        values.empty
        or not values.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all()
    ):
        return column
    return pd.to_numeric(column)


def show_table(
    frame: pd.DataFrame,
    *,
    names: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    widths: Mapping[str, int | str] | None = None,
    empty_note: str | None = None,
    context: Mapping[str, str] | None = None,
    **dataframe_options,
) -> None:
    """Draw `frame` with readable headers, usernames for user ids (`names`) and "—" for empty cells; when a
    cell is empty, a caption says why (`empty_note`, else the 'Why empty' column, else that nothing could
    be computed)."""
    shown = with_usernames(frame, names) if names else frame
    shown = shown.assign(**{c: _numbers(shown[c]) for c in shown.columns if shown[c].dtype == object})
    dataframe_options.setdefault("hide_index", True)
    st.dataframe(
        shown,
        column_config=column_config(shown, labels, widths, **(context or {})),
        placeholder=EMPTY,
        **dataframe_options,
    )
    order = dataframe_options.get("column_order") or list(shown.columns)
    visible = shown[[c for c in order if c in shown.columns]]
    if visible.drop(columns="reason", errors="ignore").isna().to_numpy().any():
        why = "the 'Why empty' column says why" if "reason" in visible.columns else "nothing to compute there"
        st.caption(f"{EMPTY} {empty_note or why}.")

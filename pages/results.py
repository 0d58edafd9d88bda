"""Results (researchers): did the fine-tune help? The human verdict with intervals, agreement, whether the
automatic metrics track the humans, annotator quality, the run's loss curve, an example browser and the
export. Every number comes from `analyze`'s stages run on threads (`annotations.report.analysis_stages`),
started once per campaign, data version and options: the verdict is drawn as soon as its win rates are
ready and the other tabs fill in as their statistics finish, under a progress line. A finished analysis is
kept on disk (`annotations.report.results_cache`), so a restarted app shows it at once."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from annotations import campaigns, stats
from annotations.campaigns.facets import CampaignFacets, ItemFrames, campaign_facets, item_frames
from annotations.errors import AnnotationError
from annotations.plurals import counted
from annotations.report import (
    CampaignData,
    data_version,
    export_bytes,
    interpret,
    judgments_with_scores,
    load_campaign,
    metric_table_help,
    results_cache,
)
from annotations.report.analysis_stages import STAGES, AnalysisStages, FinishedStages
from annotations.report.metric_reading import metric_reading
from annotations.report.summary import agreement_sentence
from annotations.stats import AnalysisOptions
from annotations.stats.correlation import points_from_means
from annotations.stats.faithfulness import fidelity_table
from ft_core import runfolder
from jobs import campaign_scores
from pages import shared
from pages.plain_text import escape_markdown, escape_markdown_keep_bold
from pages.results_certainty import certainty_block
from pages.results_competence import (
    adjudication_key,
    analysis_inputs,
    competence_block,
    everyone_counts,
    who_counts_options,
)
from pages.results_judges import judge_block
from pages.results_preferences import preference_block
from pages.results_ranking import ranking_block
from pages.shared import require_role, store
from pages.tables import analysis_with_usernames, show_table, usernames, with_usernames

MAX_SCATTER_POINTS = 5000  # the browser draws a sample beyond this
ITEM_INTERVAL_HELP = (
    "The interval to read: a Wilson score interval with the item as the unit (each item's share of wins "
    "under the tie policy, averaged over the items, with n = items). It never claims certainty: 10 items won "
    "unanimously read 72%–100%, where a bootstrap collapses to a single point (docs/metrics.md)."
)


@st.cache_resource(show_spinner="Loading judgments…", max_entries=4)
def campaign_data(campaign_id: str, version: str) -> CampaignData:
    # only for the export and the slides (on their button): the page itself never reads every judgment
    return load_campaign(store(), campaign_id)


@st.cache_data(max_entries=16)
def facets(campaign_id: str, version: str) -> CampaignFacets:
    return campaign_facets(store(), campaign_id)


@st.cache_resource(show_spinner=False, max_entries=16)
def campaign_stages(
    campaign_id: str, version: str, options: AnalysisOptions, adjudicated: str = ""
) -> AnalysisStages | FinishedStages:
    # a resource: the running stages are shared by every rerun and tab until they finish, then kept;
    # `adjudicated` (adjudication_key) tells the adjudicated labels used apart, which no data version sees
    inputs = analysis_inputs(campaign_id, version, options)  # the "Who counts" block's choice
    return results_cache.page_analysis(store(), campaign_id, version + adjudicated, options, **inputs)


@st.cache_data(max_entries=64)
def one_item(campaign_id: str, version: str, item_id: str) -> ItemFrames:
    # one item at a time: reading every source and output of a large campaign cost a cold visit a third of a
    # second
    return item_frames(store(), campaign_id, item_id)


def interval_chart(y: str, x: str, low: str, high: str, rule: float, title: str) -> dict:
    """Points with interval bars, and a reference rule (0.5 for win rates, 0 for differences): a Vega-Lite
    spec for `st.vega_lite_chart(frame, spec)`, written as a dict: building and validating it with Altair
    cost every cold results page a tenth of a second for its four interval charts (docs/benchmarks.md); a
    dict costs nothing."""
    rows = {"field": y, "type": "nominal", "title": None, "sort": None, "axis": {"labelLimit": 320}}
    tooltip = [{"field": y, "type": "nominal"}] + [
        {"field": f, "type": "quantitative", "format": ".3f"} for f in (x, low, high)
    ]
    return {
        "height": {"step": 34},
        "layer": [
            {
                "mark": {"type": "rule", "strokeWidth": 2},
                "encoding": {
                    "y": rows,
                    "x": {"field": low, "type": "quantitative", "title": title},
                    "x2": {"field": high},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 90},
                "encoding": {"y": rows, "x": {"field": x, "type": "quantitative"}, "tooltip": tooltip},
            },
            {
                "data": {"values": [{"r": rule}]},
                "mark": {"type": "rule", "strokeDash": [4, 4], "color": "gray"},
                "encoding": {"x": {"field": "r", "type": "quantitative"}},
            },
        ],
    }


user = require_role("researcher")
con = store()
st.title("Results")

listing = campaigns.list_campaigns(con)
if listing.empty:
    st.info("No campaign yet: create one on the Campaigns page, then collect judgments.")
    st.stop()
names = dict(zip(listing["campaign_id"], listing["name"]))
campaign_id = st.selectbox("Campaign", list(names), format_func=lambda c: f"{names[c]} ({c})", key="campaign")
# The analysis is keyed by annotator ids; a researcher reads usernames (ids of no account are shown as they
# are).
people = usernames(con)
# Keep showing the version first loaded while annotators keep adding judgments: recomputing every statistic on
# each new judgment would make every visit a cold one. The researcher refreshes when they want.
latest = data_version(con, campaign_id)
version = st.session_state.setdefault(f"version:{campaign_id}", latest)
if version != latest:
    with st.container(horizontal=True):
        st.info("New judgments or automatic scores arrived since these results were computed.")
        st.button(
            "Include them",
            key="refresh",
            on_click=st.session_state.__setitem__,
            args=(f"version:{campaign_id}", latest),
        )
if campaign_scores.pending(con, campaign_id) is not None:
    st.caption(
        "The outputs are being scored against their sources in the background (Jobs page): those scores join "
        "the automatic metrics once they are in."
    )
choices = facets(campaign_id, version)
if not choices.n_judgments:
    st.info("This campaign has no judgments yet.")
    st.stop()

all_annotators = choices.annotators
criteria_names = choices.criteria
with st.expander("What counts", expanded=False):
    left, right = st.columns(2)
    tie_policy = left.radio(
        "Ties and 'both bad'",
        stats.TIE_POLICIES,
        format_func=lambda p: f"{p}: {stats.TIE_POLICY_HELP[p]}",
        key="tie_policy",
    )
    # one choice per campaign: a key shared by every campaign carried one campaign's annotators into the next
    chosen = right.multiselect(
        "Annotators",
        all_annotators,
        default=all_annotators,
        key=f"annotators:{campaign_id}",
        format_func=lambda a: people.get(a, a),
    )
    exclude_flagged = right.checkbox("Leave out annotators the quality checks flag", key="exclude_flagged")
    include_gold = right.checkbox("Count gold items in the verdict", key="include_gold")
    include_repeats = right.checkbox("Count flipped repeats as extra judgments", key="include_repeats")
    confidence = left.selectbox(
        "Interval coverage",
        stats.CONFIDENCES,
        index=stats.CONFIDENCES.index(0.95),
        format_func=stats.percent_label,
        key="confidence",
    )
options = AnalysisOptions(
    tie_policy=tie_policy,
    exclude_annotators=tuple(a for a in all_annotators if a not in chosen),
    exclude_flagged=exclude_flagged,
    include_gold=include_gold,
    include_repeats=include_repeats,
    confidence=confidence,
    **who_counts_options(campaign_id),  # the "Who counts" block's choice (Verdict tab, at its end)
)
chosen_options, adjudicated = options, adjudication_key(campaign_id, options)  # the block keeps the choice
try:
    try:
        stages = campaign_stages(campaign_id, version, options, adjudicated)
    except AnnotationError as e:
        if options == everyone_counts(options):
            raise
        # a choice that leaves nothing (or no competence to learn): count everyone; the block can change it
        st.warning(f"Who counts: {escape_markdown(e)}. The figures below count everyone.")
        options, adjudicated = everyone_counts(options), ""
        stages = campaign_stages(campaign_id, version, options, adjudicated)
    used = stages.evidence
except AnnotationError as e:
    st.error(escape_markdown(e))
    st.stop()

st.caption(
    f"{used.judgments_used:,} of {counted(used.judgments_total, 'judgment')} on "
    f"{counted(used.items_used, 'item')} by {counted(used.annotators_used, 'annotator')}; left out: "
    f"{used.judgments_of_excluded_annotators:,} of excluded annotators "
    f"({escape_markdown(', '.join(people.get(a, a) for a in used.excluded_annotators) or 'none')}), "
    f"{counted(used.repeats_left_out, 'repeat')}, {used.gold_left_out:,} gold. Intervals: "
    f"{stats.percent_label(options.confidence)}, {options.n_boot:,} bootstrap resamples over items, seed "
    f"{options.seed}."
    + (f" Who counts: {escape_markdown(used.who_counts)}." if used.who_counts else "")
)  # fmt: skip
criterion = st.selectbox("Criterion", ["all", *criteria_names], key="criterion") if criteria_names else "all"
progress = st.empty()


def wait_for(stage: str):
    """The stage's result; the progress line says what is ready and what is still being computed."""
    ready = stages.done()
    if stage not in ready:
        progress.progress(
            len(ready) / len(STAGES),
            text=f"Computing statistics: {stage} ({len(ready)} of {len(STAGES)} ready)…",
        )
    collect = {
        "verdict": stages.verdict,
        "agreement": stages.agreement,
        "metrics versus humans": stages.versus,
        "annotators": stages.biases,
    }[stage]
    try:
        return collect()
    except AnnotationError as e:
        progress.empty()
        st.error(escape_markdown(e))
        st.stop()


try:
    win, win_by_policy = stages.headline()
except AnnotationError as e:
    st.error(escape_markdown(e))
    st.stop()
context = {
    "ci": stats.ci_label(options.confidence),
    "system": win.system,
    "opponent": win.opponent,
}  # headers

verdict_tab, agreement_tab, metrics_tab, annotators_tab, training_tab, examples_tab, export_tab = st.tabs(
    ["Verdict", "Agreement", "Metrics vs humans", "Annotators", "Training", "Examples", "Export"]
)

# ---------------------------------------------------------------- the verdict first: its win rates are ready
with verdict_tab:
    summary = st.container()  # the plain-words reading, filled once every statistic is in
    # Each figure as wide as its value, the row wrapping when they do not fit: in four equal columns the
    # interval was cut at a desktop width ("27.0% – 6…").
    with st.container(horizontal=True, gap="large"):
        st.metric(
            f"{escape_markdown(win.system)} win rate ({win.tie_policy})",
            "n/a" if win.win_rate is None else f"{win.win_rate:.1%}",
            width="content",
        )
        st.metric(
            f"{stats.ci_label(options.confidence)} (items, Wilson)",
            "n/a" if win.item_low is None else f"{win.item_low:.1%} – {win.item_high:.1%}",
            help=ITEM_INTERVAL_HELP,
            width="content",
        )
        st.metric(
            "p (items)",
            "n/a" if win.item_p is None else f"{win.item_p:.3g}",
            help="Score test of a 50% win rate with the item as the unit: the test the Wilson interval "
            "inverts, so p is below 5% exactly when the 95% interval leaves out 50%. The exact sign test on "
            "judgments, which treats judgments of one item as independent, is in the statistics table.",
            width="content",
        )
        st.metric(
            "Wins / losses / ties",
            f"{win.wins:,} / {win.losses:,} / {win.ties + win.both_bad:,}",
            width="content",
        )
    policies = win_by_policy.dropna(subset=["win_rate"])
    if not policies.empty:
        rows = []
        for r in policies.itertuples():
            for kind, low, high in (
                ("items, Wilson", r.item_low, r.item_high),
                ("item bootstrap", r.boot_low, r.boot_high),  # left out where it collapsed to a point
                ("judgments, Wilson", r.wilson_low, r.wilson_high),
            ):
                if low is not None and not pd.isna(low):
                    rows.append(
                        {
                            "interval": f"{r.tie_policy}: {kind}",
                            "win_rate": r.win_rate,
                            "low": low,
                            "high": high,
                        }
                    )
        st.vega_lite_chart(
            pd.DataFrame(rows),
            interval_chart("interval", "win_rate", "low", "high", 0.5, f"win rate of {win.system}"),
            width="stretch",
        )
        st.caption(
            f"{ITEM_INTERVAL_HELP} The item bootstrap resamples items; the judgments' Wilson interval treats "
            "judgments of one item as independent (too narrow when judges of an item agree)."
            + (f" No item-bootstrap interval: {win.boot_note}." if win.boot_note else "")
        )
    rest_of_verdict = st.container()

# ---------------------------------------------------------------- the other tabs, as their statistics finish
with rest_of_verdict:
    verdict = wait_for("verdict")
    diffs = verdict.criteria.dropna(subset=["mean_diff"])
    if criterion != "all":
        diffs = diffs[diffs["criterion"] == criterion]
    if not diffs.empty:
        st.subheader("Scores per criterion")
        st.vega_lite_chart(
            diffs.fillna({"ci_low": diffs["mean_diff"], "ci_high": diffs["mean_diff"]}),
            interval_chart(
                "criterion",
                "mean_diff",
                "ci_low",
                "ci_high",
                0.0,
                f"mean score {win.system} − {win.opponent}",
            ),
            width="stretch",
        )
        for r in diffs[diffs["ci_low"].isna() & diffs["reason"].notna()].itertuples():
            st.caption(escape_markdown(f"{r.criterion}: {r.mean_diff:+.2f}, no interval: {r.reason}."))
    # three or more systems: the ranking with intervals and X vs Y; otherwise the plain strengths table
    if not ranking_block(campaign_id, version, options.confidence) and verdict.bradley_terry is not None:
        st.subheader("Bradley–Terry strengths")
        show_table(verdict.bradley_terry.table)
    if not verdict.metric_table.empty:
        st.subheader("Automatic metrics on these items")
        show_table(verdict.metric_table, context=context)
        st.caption(metric_table_help(verdict.metric_table["metric"]))
    plan_section = st.container()  # "how many more judgments" needs the agreement too

with agreement_tab:
    agreeing = wait_for("agreement")
    table = agreeing.table
    if criterion != "all":
        table = table[
            table["target"].str.startswith("preference") | table["target"].str.startswith(f"{criterion} ")
        ]
    preference_alpha = agreeing.table.iloc[0]["alpha"]
    plan = agreeing.plan
    raw = agreeing.raw
    if raw is not None and raw.share is not None:  # a plain share whenever some item was judged twice or more
        st.metric(
            "Raw agreement on the preference",
            f"{raw.share:.0%}",
            help="Of all pairs of judgments on the same item (by two annotators), the share that chose the "
            f"same outcome: {raw.n_pairs:,} pairs on {counted(raw.n_items, 'item')}.",
            width="content",
        )
    if preference_alpha is None or pd.isna(preference_alpha):
        # one annotator, several who never judged the same item, or judgments with no variation: say which
        sentence = agreement_sentence(agreeing.table.iloc[0], raw, plan, stats.ci_label(options.confidence))
        st.info(escape_markdown(sentence))
        if plan is not None and plan.items_needed and (raw is None or raw.n_pairs == 0):
            st.markdown(
                "**How many overlapping judgments?** Items that need a second, independent judgment for the "
                "preference's Krippendorff's alpha to have a 95% interval of the given width"
            )
            st.dataframe(
                pd.DataFrame(
                    {
                        "interval": [f"alpha ± {w:.2f}" for w in plan.items_needed],
                        "items judged by two annotators": list(plan.items_needed.values()),
                        "second judgments still needed": list(plan.more_judgments.values()),
                    }
                ),
                hide_index=True,
            )
            st.caption(
                f"Assumes the annotators agree at alpha ≈ {plan.assumed_alpha:.3f} (Krippendorff's tentative "
                f"threshold) and choose the outcomes in the shares seen so far (chance agreement "
                f"{plan.chance_agreement:.2f}); Cohen's (1960) large-sample standard error. Give the second "
                "annotator the same campaign: the assignment serves each item to k annotators."
            )
        elif plan is not None and plan.reason:
            st.caption(f"No plan: {plan.reason}.")
    else:
        defined = table.dropna(subset=["alpha"]).assign(label=lambda t: t["target"] + " · " + t["level"])
        if not defined.empty:
            st.vega_lite_chart(
                defined.fillna({"ci_low": defined["alpha"], "ci_high": defined["alpha"]}),
                interval_chart(
                    "label",
                    "alpha",
                    "ci_low",
                    "ci_high",
                    0.667,
                    "Krippendorff's alpha (dashed: .667, tentative reliability)",
                ),
                width="stretch",
            )
        show_table(
            table[["target", "level", "alpha", "ci_low", "ci_high", "n_units", "n_annotators", "reason"]],
            context=context,
        )
        fleiss = agreeing.fleiss
        if fleiss.kappa is not None:
            st.caption(
                f"Fleiss' kappa (preference): {fleiss.kappa:.3f} on {counted(fleiss.n_items, 'item')} "
                f"with {fleiss.raters_per_item} ratings each."
            )
        if not agreeing.leave_one_out.empty:
            st.markdown("**Leave one annotator out** (alpha without each annotator)")
            show_table(
                agreeing.leave_one_out,
                names=people,
                labels={"alpha": "Alpha with everyone"},
                empty_note="no alpha without this annotator: too few items judged by two of the others",
            )
        if not agreeing.cohen.empty:
            st.markdown("**Cohen's kappa per annotator pair**")
            show_table(agreeing.cohen, names=people, labels={"n": "Items judged by both"})
    judge_block(campaign_id, version, options.confidence)  # LLM judges, measured against the annotators


@st.fragment
def scatter(versus, metric_names: list[str], human_names: list[str]) -> None:
    """The metric-human scatter: its own fragment, so choosing another metric redraws only this part."""
    c1, c2 = st.columns(2)
    metric = c1.selectbox("Metric", metric_names, key="scatter_metric")
    human = c2.selectbox("Human score", human_names, key="scatter_human")
    points = points_from_means(versus.means, metric, human)  # analyze's own means
    if len(points) > MAX_SCATTER_POINTS:
        st.caption(f"Showing {MAX_SCATTER_POINTS} of {len(points)} points (random sample).")
        points = points.sample(MAX_SCATTER_POINTS, random_state=0)
    st.altair_chart(
        alt.Chart(points)
        .mark_circle(opacity=0.6)
        .encode(
            x=alt.X("value:Q", title=metric),
            y=alt.Y("score:Q", title=f"mean human {human} score"),
            color=alt.Color("system:N", scale=alt.Scale(scheme="tableau10")),
            tooltip=["item_id", "system", "value", "score"],
        ),
        width="stretch",
    )
    shown = versus.correlations[
        (versus.correlations["metric"] == metric) & (versus.correlations["human"] == human)
    ]
    with st.expander(escape_markdown(f"{metric} against the human {human} score: every level and method")):
        show_table(
            shown[
                [
                    "level",
                    "method",
                    "coefficient",
                    "ci_low",
                    "ci_high",
                    "n",
                    "n_skipped",
                    "ci_method",
                    "reason",
                ]
            ],
            context=context,
        )


with metrics_tab:
    versus = wait_for("metrics versus humans")
    accuracy = versus.pairwise_accuracy.dropna(subset=["accuracy"])
    if accuracy.empty and versus.correlations.empty:
        st.info("No automatic metrics were imported with this campaign.")
    else:
        if not versus.preference_correlations.empty:  # the answer first: one sentence and one table
            reading = metric_reading(versus.preference_correlations, options.confidence)
            st.markdown("**Do the automatic metrics track the humans?**")
            st.markdown(escape_markdown(reading.sentence))
            show_table(reading.table, context=context, labels={"n": "Items"})
        if not accuracy.empty:
            st.markdown(
                "**Does the metric's difference point the same way as the human majority?** (ties excluded)"
            )
            st.vega_lite_chart(
                accuracy,
                interval_chart("metric", "accuracy", "ci_low", "ci_high", 0.5, "pairwise accuracy"),
                width="stretch",
            )
        metric_names = choices.metrics
        human_names = criteria_names if criterion == "all" else [criterion]
        if metric_names and human_names:
            scatter(versus, metric_names, human_names)
        fidelity = fidelity_table(versus.correlations)
        if not fidelity.empty:
            st.markdown(
                "**Faithfulness scores beside the human fidelity score** (summary level: within each item; "
                "only reference-free scores that compare the output with its source; `better`: "
                "lower-is-better scores that track fidelity correlate negatively)"
            )
            st.dataframe(fidelity, hide_index=True)
        with st.expander("Spearman and Pearson, and every correlation"):
            st.markdown("**The metric's per-item difference against the human preference, by every method**")
            show_table(
                versus.preference_correlations[
                    ["metric", "method", "coefficient", "ci_low", "ci_high", "n", "reason"]
                ],
                context=context,
            )
            st.markdown("**Every correlation of a metric with a human score**")
            show_table(versus.correlations, context=context)

with annotators_tab:
    biases = wait_for("annotators")
    show_table(
        biases.annotators,
        names=people,
        empty_note="where an annotator judged no gold item or no repeat: nothing to measure",
        column_order=[
            "annotator_id",
            "n_judgments",
            "flags",
            "median_s",
            "fast_share",
            "left_share",
            "left_p",
            "gold_n",
            "gold_accuracy",
            "repeat_n",
            "self_consistency",
            "majority_n",
            "majority_agreement",
            "excluded",
        ],  # the flags beside the name; `flagged` is their echo
    )
    position = with_usernames(biases.position[biases.position["annotator_id"] != "all"], people)
    if not position.empty:
        st.altair_chart(
            alt.Chart(position)
            .mark_bar()
            .encode(
                x=alt.X("left_share:Q", title="share of 'left' choices", scale=alt.Scale(domain=[0, 1])),
                y=alt.Y("annotator_id:N", title=None),
                tooltip=["annotator_id", "n", "left_share", "p_value"],
            )
            + alt.Chart(pd.DataFrame({"r": [0.5]}))
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(x="r:Q"),
            width="stretch",
        )
    length = biases.length
    st.caption(
        "Length bias: "
        + (
            length.reason
            or f"the longer output won {length.share:.0%} of {length.n} decisive "
            f"judgments (p = {length.p_value:.3g})."
        )
    )

result = stages.result()  # every stage is in: the reading in plain words, the plan and the export
# once; kept across restarts
results_cache.save(results_cache.cache_folder(), campaign_id, version + adjudicated, result)
with summary:
    for line in interpret(analysis_with_usernames(result, people)):
        st.markdown(f"- {escape_markdown_keep_bold(line)}")
with plan_section:
    p = result.power
    st.subheader("How many more judgments?")
    c1, c2, c3 = st.columns(3)
    c1.metric(
        "Win-rate interval now", "n/a" if p.win_rate_half_width is None else f"±{p.win_rate_half_width:.1%}"
    )
    c2.metric(
        f"More items for ±{p.target_half_width:.0%}",
        "n/a" if p.more_items_for_target is None else p.more_items_for_target,
    )
    c3.metric(
        f"Items to detect ±{p.detect_difference:.0%}",
        "n/a" if p.items_to_detect is None else p.items_to_detect,
    )
    if p.reason:
        st.caption(p.reason)
    certainty_block(campaign_id, version, options.confidence, choices.n_judgments)  # PPI, when to stop
    competence_block(campaign_id, version, chosen_options, people)  # weight, exclude, adjudicated labels
progress.empty()

with training_tab:
    log = runfolder.read_log(choices.run_dir)
    if log.empty:
        st.info("No train_log.jsonl for this campaign's run.")
    else:
        curves = log.melt(
            id_vars="step", value_vars=[c for c in ("loss", "eval_loss") if c in log], var_name="series"
        ).dropna()
        st.altair_chart(
            alt.Chart(curves)
            .mark_line(point=False)
            .encode(x="step:Q", y=alt.Y("value:Q", title="loss"), color="series:N"),
            width="stretch",
        )


@st.fragment
def example_browser(system: str, opponent: str) -> None:
    """One item's source, both outputs and its judgments: its own fragment, so another item redraws only
    this."""
    listed = choices.items[: shared.LISTED_ITEMS]
    more = len(choices.items) > len(listed)
    left, right = st.columns(2) if more else (st.container(), None)
    item_id = left.selectbox("Item", listed, key="example_item")
    if more:
        typed = right.text_input(
            "Or an item id",
            key="example_item_typed",
            placeholder="any judged item",
            help="Opens an item not listed.",
        ).strip()
        st.caption(
            f"Listing the first {len(listed)} of {counted(len(choices.items), 'judged item')} (in the order "
            "they were first judged); type any other item's id beside the list."
        )
        if typed and typed not in set(choices.items):
            st.warning(f"This campaign has no judged item “{escape_markdown(typed)}”.")
            return
        item_id = typed or item_id
    one = one_item(campaign_id, version, item_id)
    if not one.item.empty:
        row = one.item.iloc[0]
        st.markdown("**Source**")
        st.text(str(row.get("source") or ""))
        if row.get("references"):
            st.markdown("**References**")
            for reference in row["references"]:
                st.text(reference)
    columns = st.columns(2)
    for column, name in zip(columns, (opponent, system)):
        text = one.outputs[one.outputs["system"] == name]["output"]
        column.markdown(f"**{escape_markdown(name)}**")
        column.text(text.iloc[0] if len(text) else "(no output)")
        with column:
            show_table(one.metrics[one.metrics["system"] == name][["metric", "value"]])
    st.markdown("**Judgments**")
    show_table(
        judgments_with_scores(one.judgments, one.scores).drop(
            columns=["campaign_id", "system_a", "system_b", "assignment_id", "repeat_of"], errors="ignore"
        ),
        names=people,
        empty_note="no comment, or a score not given",
    )


with examples_tab:
    example_browser(result.system, result.opponent)


def slides_zip() -> bytes:
    from annotations.report.slides import (
        slides_bytes,  # matplotlib: imported on the click, not on every cold page
    )

    return slides_bytes(store(), campaign_data(campaign_id, version), result)


with export_tab:
    st.write(
        "Judgments (CSV, Parquet, JSONL), every statistic (JSON, CSV) with method, n, intervals, seed and "
        "versions, and the Markdown/HTML report, in one zip. `.venv/bin/python -m annotations export --db "
        "FILE --out DIR` writes the same."
    )
    st.download_button(
        "Download export (.zip)",
        data=shared.while_signed_in(lambda: export_bytes(campaign_data(campaign_id, version), result)),
        file_name=f"{campaign_id}-export.zip",
        mime="application/zip",
        key="download_export",
    )
    st.write(
        "A slide deck to present as is: training curves, the metric table with paired-bootstrap intervals, "
        "the verdict, agreement, bias checks and three example pairs; PNG charts, a Marp Markdown deck and "
        "one self-contained HTML file. `.venv/bin/python -m annotations export --db FILE --out DIR --slides` "
        "writes the same."
    )
    st.download_button(
        "Download slides (.zip)",
        data=shared.while_signed_in(slides_zip),
        file_name=f"{campaign_id}-slides.zip",
        mime="application/zip",
        key="download_slides",
    )
    preference_block(campaign_id, version)

"""The report's content as blocks (kind, content): headings, paragraphs, bullet lists, tables and the
loss-curve SVG, in the order a reader meets them; annotations.report.render turns them into Markdown or
HTML."""

from __future__ import annotations

import math

import pandas as pd

from annotations import stats
from annotations.plurals import counted
from annotations.report.campaign_data import CampaignData
from annotations.report.loss_curve import loss_curve_svg
from annotations.report.summary import _num, interpret
from annotations.stats.analysis import CampaignAnalysis
from ft_core import runfolder


def _table(df: pd.DataFrame, columns: list[str] | None = None, digits: int = 3) -> pd.DataFrame:
    df = df[columns] if columns else df
    return df.map(
        lambda v: (
            round(v, digits)
            if isinstance(v, float) and not math.isnan(v)
            else ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
        )
    )


Block = tuple[str, object]  # (kind, content): kind is h1, h2, p, list, table or svg

# the training settings the report names, in this order, from the run's config.json
_TRAINING_KEYS = (
    "base_model",
    "task",
    "lora_r",
    "lora_alpha",
    "learning_rate",
    "num_epochs",
    "max_steps",
    "seed",
)


def report_blocks(data: CampaignData, a: CampaignAnalysis, log: pd.DataFrame, config: dict) -> list[Block]:
    """The report as blocks (kind, content): h1/h2 headings, paragraphs, bullet lists, tables and the SVG.

    `log` is the run's train log (ft_core.runfolder.read_log), `config` its config.json ({} without a run)."""
    return [
        ("h1", f"Did the fine-tune help? {data.name}"),
        ("h2", "In plain words"),
        ("list", interpret(a)),
        ("h2", "Setup"),
        ("list", setup_lines(data, a, config)),
        ("h2", "Training"),
        *training_blocks(log),
        ("h2", "Automatic metrics on the campaign's items"),
        *metric_blocks(a),
        ("h2", "Human verdict"),
        *verdict_blocks(a),
        ("h2", "Agreement"),
        *agreement_blocks(a),
        ("h2", "Do the metrics agree with the humans?"),
        *metrics_vs_humans_blocks(a),
        ("h2", "Annotators"),
        *annotator_blocks(a),
    ]


def setup_lines(data: CampaignData, a: CampaignAnalysis, config: dict) -> list[str]:
    """What was compared, on which judgments, with which options and versions, and the training run's
    settings."""
    o = a.options
    lines = [
        f"Campaign `{a.campaign_id}`: {a.system} (fine-tuned) against {a.opponent}, blind pairwise "
        "comparison with "
        "sides randomized per judgment.",
    ]
    if data.design and data.design.get("design_id"):
        lines.append(
            f"Sides: each annotator's own random design `{data.design['design_id']}` (permuted blocks of "
            f"{'/'.join(map(str, data.design['side_block_sizes']))} pairs, each system left in half of each "
            f"block, never more than {data.design['side_max_imbalance']} apart); items in an order of each "
            "annotator's own."
        )
    lines += [
        f"Judgments used: {a.evidence.judgments_used} of {a.evidence.judgments_total} on "
        f"{a.evidence.items_used} items from {a.evidence.annotators_used} annotators; repeats left out: "
        f"{a.evidence.repeats_left_out}; gold left out: {a.evidence.gold_left_out}; excluded annotators: "
        f"{', '.join(a.evidence.excluded_annotators) or 'none'}.",
        f"Tie policy: {o.tie_policy} ({stats.TIE_POLICY_HELP[o.tie_policy]}). Intervals: "
        f"{stats.percent_label(o.confidence)}, {o.n_boot} bootstrap resamples over items, seed {o.seed}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in a.environment.items()),
    ]
    if config:
        lines.append(
            "Training run: " + ", ".join(f"{k} = {config[k]}" for k in _TRAINING_KEYS if k in config)
        )
    return lines


def training_blocks(log: pd.DataFrame) -> list[Block]:
    """The loss curve and the best eval / final training loss, or a line saying there is no log."""
    svg = loss_curve_svg(log)
    if not svg:
        return [("p", "No train_log.jsonl found for this campaign's run.")]
    blocks: list[Block] = [("svg", svg)]
    if "eval_loss" in log and log["eval_loss"].notna().any():
        blocks.append(
            (
                "p",
                f"Best eval loss {log['eval_loss'].min():.4f}; final training loss "
                f"{log['loss'].dropna().iloc[-1]:.4f}.",
            )
        )
    return blocks


def metric_table_help(metrics) -> str:
    """The line under a table of automatic metrics on a campaign's items (the results page, the report, the
    slides): its figures are means of per-item scores, and which BLEU and chrF those are."""
    line = (
        "Means over these items of each output's score, and the mean paired difference. A run's own table "
        "(Runs page) also shows corpus BLEU and chrF (`bleu`, `sacrebleu`, `chrf`, `chrfpp`: n-gram counts "
        "pooled over the items, then one score), which differ from these means."
    )
    definitions = runfolder.metric_help(metrics)
    return f"{line} {definitions}." if definitions else line


def metric_blocks(a: CampaignAnalysis) -> list[Block]:
    """The automatic metrics of both systems on the campaign's items, and what their figures are."""
    if a.verdict.metric_table.empty:
        return [("p", "No automatic metrics were imported with this campaign.")]
    return [
        ("table", _table(a.verdict.metric_table)),
        ("p", metric_table_help(a.verdict.metric_table["metric"])),
    ]


INTERVALS_HELP = (
    "`item_low`–`item_high`: the interval to read, a Wilson score interval with the item as the unit (each "
    "item's share of wins under the tie policy, averaged over the items, with n = items); it stays honest "
    "when every item agrees. `boot_low`–`boot_high`: percentile bootstrap over items (empty when every "
    "resample gives the same value). `wilson_low`–`wilson_high`: Wilson over judgments, as if judgments of "
    "one item were independent."
)


def verdict_blocks(a: CampaignAnalysis) -> list[Block]:
    """The win rate under each tie policy, the per-criterion score differences and Bradley-Terry strengths."""
    blocks: list[Block] = [
        (
            "table",
            _table(
                a.verdict.win_by_policy,
                [
                    "tie_policy",
                    "wins",
                    "losses",
                    "ties",
                    "both_bad",
                    "win_rate",
                    "item_low",
                    "item_high",
                    "boot_low",
                    "boot_high",
                    "wilson_low",
                    "wilson_high",
                    "sign_test_p",
                    "n_used",
                    "n_items",
                ],
            ),
        ),
        ("p", INTERVALS_HELP),
    ]
    notes = (
        a.verdict.win_by_policy.dropna(subset=["boot_note"])
        if "boot_note" in a.verdict.win_by_policy
        else a.verdict.win_by_policy[:0]
    )
    if not notes.empty:
        blocks.append(("p", f"No bootstrap interval: {notes.iloc[0]['boot_note']}."))
    if not a.verdict.criteria.empty:
        blocks.append(
            (
                "table",
                _table(
                    a.verdict.criteria,
                    [
                        "criterion",
                        "mean_opponent",
                        "mean_system",
                        "mean_diff",
                        "ci_low",
                        "ci_high",
                        "t_p",
                        "n",
                        "n_items",
                        "reason",
                    ],
                ),
            )
        )
    if a.verdict.bradley_terry is not None:
        blocks.append(("table", _table(a.verdict.bradley_terry.table)))
    return blocks


def agreement_blocks(a: CampaignAnalysis) -> list[Block]:
    """Krippendorff's alpha per target and Fleiss' kappa on the preference."""
    columns = ["target", "level", "alpha", "ci_low", "ci_high", "n_units", "n_annotators", "reason"]
    raw = a.agreement.raw
    plain = (
        [
            (
                "p",
                f"Raw agreement on the preference: {100 * raw.share:.0f}% of {counted(raw.n_pairs, 'pair')} "
                f"of judgments on {counted(raw.n_items, 'item')} judged by two or more annotators agree.",
            )
        ]
        if raw is not None and raw.share is not None
        else []
    )
    return [
        ("table", _table(a.agreement.table, columns)),
        *plain,
        (
            "p",
            f"Fleiss' kappa on the preference: {_num(a.agreement.fleiss.kappa)} "
            f"({a.agreement.fleiss.n_items} items with "
            f"{a.agreement.fleiss.raters_per_item} ratings "
            f"each){'; ' + a.agreement.fleiss.reason if a.agreement.fleiss.reason else ''}.",
        ),
    ]


def metrics_vs_humans_blocks(a: CampaignAnalysis) -> list[Block]:
    """Pairwise accuracy of each metric against the human majority, and metric-human correlations
    (Kendall)."""
    if a.versus_metrics.correlations.empty and a.versus_metrics.pairwise_accuracy.empty:
        return [("p", "No automatic metrics to compare.")]
    blocks: list[Block] = []
    if not a.versus_metrics.pairwise_accuracy.empty:
        columns = ["metric", "accuracy", "ci_low", "ci_high", "n", "n_human_ties", "n_metric_ties"]
        blocks.append(("table", _table(a.versus_metrics.pairwise_accuracy, columns)))
    if not a.versus_metrics.preference_correlations.empty:
        columns = ["metric", "method", "coefficient", "ci_low", "ci_high", "n"]
        blocks.append(("table", _table(a.versus_metrics.preference_correlations, columns)))
    if not a.versus_metrics.correlations.empty:
        shown = a.versus_metrics.correlations[a.versus_metrics.correlations["method"] == "kendall"]
        columns = ["metric", "human", "level", "coefficient", "ci_low", "ci_high", "n", "n_skipped", "reason"]
        blocks.append(("table", _table(shown, columns)))
        blocks.append(("p", "Kendall tau-b shown; Spearman and Pearson are in statistics.csv."))
    return blocks


def annotator_blocks(a: CampaignAnalysis) -> list[Block]:
    """Each annotator's quality checks: speed, side preference, gold accuracy, self-consistency, flags."""
    return [
        (
            "table",
            _table(
                a.biases.annotators,
                [
                    "annotator_id",
                    "n_judgments",
                    "median_s",
                    "fast_share",
                    "left_share",
                    "left_p",
                    "gold_n",
                    "gold_accuracy",
                    "self_consistency",
                    "majority_agreement",
                    "flags",
                    "excluded",
                ],
            ),
        )
    ]

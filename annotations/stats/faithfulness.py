"""The faithfulness scores beside the human "fidelity" criterion, for the results page.

`ft_core.metrics` scores each output against its source without a reference (`novel_1gram` ... `novel_4gram`,
`unsupported_numbers`, `unsupported_entities`, `bertscore_src_precision`, `likelihood`). The question a
researcher asks of them is whether they track what annotators call fidelity ("is everything it says supported
by the source?"). `fidelity_table` picks those rows out of the metric-human correlation table `analyze`
already made (`CampaignAnalysis.correlations`; annotations.stats.correlation), one row per score and method,
with the direction in which each score is better: a lower-is-better score that tracks fidelity correlates
negatively. Only scores that compare the output with its source belong here: a reference-based metric (ROUGE,
BLEU, BERTScore against the reference) says nothing about what the source supports, and the correlation table
has them all. No statistics are computed here.
"""

from __future__ import annotations

import pandas as pd

# column of ft_core.metrics -> which way is better
FAITHFULNESS_SCORES = {
    "likelihood": "higher",
    "bertscore_src_precision": "higher",
    "novel_1gram": "lower",
    "novel_2gram": "lower",
    "novel_3gram": "lower",
    "novel_4gram": "lower",
    "unsupported_numbers": "lower",
    "unsupported_entities": "lower",
}
FIDELITY = "fidelity"  # the default criterion's name (annotations.campaigns.default_criteria)
COLUMNS = ["metric", "better", "method", "coefficient", "ci_low", "ci_high", "n", "reason"]


def fidelity_table(
    correlations: pd.DataFrame, criterion: str = FIDELITY, level: str = "summary"
) -> pd.DataFrame:
    """Correlations of the faithfulness scores (FAITHFULNESS_SCORES: reference-free, against the source) with
    `criterion` at `level` (the summary level, within each item, as SummEval and G-Eval report them), in
    FAITHFULNESS_SCORES' order; `better` says which way each score is better. Empty when the campaign has no
    such criterion or no faithfulness score."""
    if correlations.empty or criterion not in set(correlations["human"]):
        return pd.DataFrame(columns=COLUMNS)
    rows = correlations[
        (correlations["human"] == criterion)
        & (correlations["level"] == level)
        & correlations["metric"].isin(list(FAITHFULNESS_SCORES))
    ].copy()
    order = {name: i for i, name in enumerate(FAITHFULNESS_SCORES)}
    rows["better"] = [FAITHFULNESS_SCORES[m] for m in rows["metric"]]
    rows["_order"] = [order[m] for m in rows["metric"]]
    rows = rows.sort_values(["_order", "metric", "method"], kind="stable")
    return rows[COLUMNS].reset_index(drop=True)

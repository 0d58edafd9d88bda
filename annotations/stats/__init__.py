"""The statistics of a campaign, as pure functions over the frames of docs/frames.md (no I/O), for the results
page, the export and `python -m annotations stats`:

- the one bootstrap engine (item resamples shared by every interval, exact per column) is
  `ft_core.resampling`, shared with the run's comparison; `bootstrap` is its old name here
- `intervals`: percentile and Wilson intervals, and the labels that say their coverage
- `frames`: the one check on the frames' columns
- `preference`: win rate with a tie policy, sign test, Bradley-Terry
- `criteria`: per-criterion mean score differences
- `paired_metrics`: automatic metrics of two systems on the same items
- `quality`: position and length bias, speed, the annotator table
- `competence`: crowd participants: straight-lining, MACE and Dawid–Skene competence (crowd-kit), the verdict
  weighted by competence or without the least competent, adjudicated labels, the most disputed items
- `agreement`: Krippendorff's alpha, Cohen's and Fleiss' kappa, gold accuracy, self-consistency
- `correlation`: metric-human correlation at every level, per-item preference correlation, pairwise accuracy
- `power`: how many more judgments
- `ppi`: prediction-powered win rates (PPI++: human labels plus a judge or metric on every item), the planner
- `sequential`: the anytime-valid confidence sequence and the stop / keep-going decision
- `active`: which items humans should judge (by the judge's uncertainty) and the weighted estimate that goes
  with it
- `analysis_options`: how `analyze` turns judgments into conclusions (`AnalysisOptions`, checked when made)
- `analysis`: `analyze`, every statistic of one campaign in one plain call, told in stages
- `campaign_analysis`: its result (verdict, agreement, versus_metrics, biases, evidence), as JSON and as one
  table
- `environment`: the versions written beside every statistic

`annotations.stats.analyze` is the one call for a whole campaign. `annotations.stats` keeps exposing the names
it had when it was one module (`annotations.stats.win_rate`, ...).
"""

from annotations.stats.analysis import AnalysisOptions, CampaignAnalysis, analyze
from annotations.stats.criteria import criterion_differences
from annotations.stats.intervals import (
    CONFIDENCES,
    ci_label,
    percent_label,
    percentile_interval,
    wilson_interval,
)
from annotations.stats.paired_metrics import metric_differences, metric_pairs
from annotations.stats.preference import (
    TIE_OUTCOMES,
    TIE_POLICIES,
    TIE_POLICY_HELP,
    BradleyTerryResult,
    WinRateResult,
    bradley_terry,
    default_pair,
    win_rate,
)
from annotations.stats.quality import (
    LengthBiasResult,
    QualityThresholds,
    annotator_table,
    length_bias,
    position_bias,
    speed,
    too_fast,
)
from ft_core.resampling import (
    PATTERN_LIMIT,
    bootstrap_totals,
    distinct_rows,
    item_weights,
    pattern_totals,
)

__all__ = [
    "AnalysisOptions", "CampaignAnalysis", "analyze", "PATTERN_LIMIT", "BradleyTerryResult",
    "LengthBiasResult", "QualityThresholds", "TIE_OUTCOMES", "TIE_POLICIES", "TIE_POLICY_HELP",
    "WinRateResult", "annotator_table", "bootstrap_totals", "bradley_terry", "criterion_differences",
    "default_pair", "distinct_rows", "item_weights", "length_bias", "metric_differences", "metric_pairs",
    "pattern_totals", "CONFIDENCES", "ci_label", "percent_label", "percentile_interval", "position_bias",
    "speed", "too_fast", "wilson_interval", "win_rate",
]  # fmt: skip

"""Campaigns: which two systems are compared on which items, under which criteria, by how many annotators.

A researcher builds one from a run folder (`outputs/*.jsonl` + `scores/per_example.parquet`, see
docs/run-folder.md) or from a CSV/JSONL with `item_id, system, output` columns (optional `source`, `prompt`,
`references`, `gold_winner`, and numeric metric columns), so outputs made elsewhere can be judged too.

- `config`: `CampaignConfig` and `Criterion`, the settings as one typed object that checks itself.
- `imports`: reading outputs and metrics from a run folder (through ft_core.runfolder) or a file.
- `selection`: all items, a random sample, or the "critical" ones where the metrics disagree most.
- `creation`: `create_campaign`, in stages, and its one write to the store.
- `judges`: who may judge a campaign (everyone by default, or a list a researcher sets).
- `judge_verdicts`: an LLM judge's verdicts imported from the run folder, apart from human judgments.
- `judge_folder`: where a judging job (jobs.judging) reads a campaign's pairs, and storing its verdicts after.
- `queries`: a stored campaign read back, and the frames the assignment, statistics and results page read.
"""

from annotations.campaigns.config import (
    DEFAULT_INSTRUCTIONS,
    DEFAULT_MAX_COMMENT_CHARS,
    DEFAULT_MAX_TEXT_CHARS,
    SELECTIONS,
    SPECIAL_WINNERS,
    CampaignConfig,
    Criterion,
    default_criteria,
)
from annotations.campaigns.creation import create_campaign
from annotations.campaigns.imports import (
    NOT_METRICS,
    ImportedOutputs,
    import_outputs,
    run_folder_options,
    run_folders,
    table_file_systems,
)
from annotations.campaigns.judge_verdicts import (
    JudgeImport,
    import_judge,
    judge_runs,
    judge_verdicts_frame,
    judges_in_run,
)
from annotations.campaigns.judges import campaign_judges, may_judge, set_judges
from annotations.campaigns.queries import (
    Campaign,
    campaign_config,
    campaign_design,
    design_record,
    get_campaign,
    items_frame,
    list_campaigns,
    metrics_frame,
    outputs_frame,
    set_status,
)
from annotations.campaigns.selection import QUALITY_METRICS, metric_disagreement
from annotations.store import read_frame

__all__ = [
    "DEFAULT_INSTRUCTIONS", "DEFAULT_MAX_COMMENT_CHARS", "DEFAULT_MAX_TEXT_CHARS", "NOT_METRICS",
    "QUALITY_METRICS", "SELECTIONS", "SPECIAL_WINNERS", "Campaign", "CampaignConfig", "Criterion",
    "ImportedOutputs", "JudgeImport", "campaign_config", "campaign_design", "campaign_judges",
    "create_campaign", "default_criteria", "design_record", "get_campaign", "import_judge", "import_outputs",
    "items_frame", "judge_runs", "judge_verdicts_frame", "judges_in_run", "list_campaigns", "may_judge",
    "metric_disagreement", "metrics_frame", "outputs_frame", "read_frame", "run_folder_options",
    "run_folders", "set_judges", "set_status", "table_file_systems",
]  # fmt: skip

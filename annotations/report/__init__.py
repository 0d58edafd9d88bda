"""The report and export of a campaign, for the researcher who presents or archives a result.

- `campaign_data`: one campaign's frames from the store (`load_campaign`) and the results page's cache key.
- `summary`: the plain-language reading (`interpret`) and the stats command's text (`summary_text`).
- `blocks`: the report's content as headings, paragraphs, lists, tables and the loss curve (`report_blocks`).
- `loss_curve`: the run's training loss as an SVG; `render`: blocks to Markdown or HTML.
- `judgments_table`: the export's judgments table and its inverse; `export`: writing an export, reading it
  back (`load_export`) and zipping it (`export_bytes`).
- `analysis_stages`: the results page's speed trick, `analyze`'s stages on threads (the verdict first), pinned
  to
  the plain `annotations.stats.analyze`; `results_cache`: finished analyses kept on disk across restarts.
- `cli`: `python -m annotations stats --db FILE [--json]` and `python -m annotations export --db FILE --out
  DIR`.
"""

from annotations.report.blocks import metric_table_help, report_blocks
from annotations.report.campaign_data import CampaignData, data_version, load_campaign
from annotations.report.cli import main_export, main_stats
from annotations.report.export import LoadedExport, export_bytes, load_export, options_from_dict, write_export
from annotations.report.judgments_table import (
    JUDGMENT_COLUMNS,
    SCORE_PREFIX,
    judgments_with_scores,
    split_scores,
)
from annotations.report.loss_curve import loss_curve_svg
from annotations.report.render import render_html, render_markdown
from annotations.report.summary import interpret, summary_text

__all__ = [
    "JUDGMENT_COLUMNS", "SCORE_PREFIX", "CampaignData", "LoadedExport", "data_version", "export_bytes",
    "interpret", "judgments_with_scores", "load_campaign", "load_export", "loss_curve_svg", "main_export",
    "main_stats", "metric_table_help", "options_from_dict", "render_html", "render_markdown", "report_blocks",
    "split_scores", "summary_text", "write_export",
]  # fmt: skip

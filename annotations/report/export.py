"""A campaign's export, for the researcher who archives or shares a result: the judgments (CSV, Parquet,
JSONL), every statistic (JSON and CSV, with method, level, n, intervals, seed and package versions) and the
Markdown/HTML report with the loss curve; `load_export` reads an export back and `analyze` on it reproduces
every statistic exactly; `export_bytes` zips it for the results page's download button.

Every CSV goes through `ft_core.runfolder.write_csv`, so no cell opens as a spreadsheet formula (a text cell
that starts with = + - @, a tab or a carriage return gets a leading '; numeric columns stay numbers);
`load_export` removes that quote again. Parquet and JSONL keep the exact text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from annotations.errors import AnnotationError
from annotations.report.blocks import report_blocks
from annotations.report.campaign_data import CampaignData
from annotations.report.judgments_table import judgments_with_scores, split_scores
from annotations.report.loss_curve import loss_curve_svg
from annotations.report.render import render_html, render_markdown
from annotations.stats.analysis import AnalysisOptions, CampaignAnalysis, analyze
from ft_core import runfolder
from ft_core.config import config_to_dict

ADJUDICATIONS = "adjudications.csv"  # item_id, winner: written when the verdict used adjudicated labels
STATISTICS = "statistics.json"  # the file that makes a folder an export: every statistic and the options


def write_export(data: CampaignData, a: CampaignAnalysis, out_dir: str | Path) -> list[Path]:
    """Write one campaign's export into out_dir; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = judgments_with_scores(data.judgments, data.scores)
    files = []

    def save(name: str, write) -> None:
        path = out / name
        write(path)
        files.append(path)

    save("judgments.parquet", lambda p: table.to_parquet(p, index=False))
    save("judgments.csv", lambda p: runfolder.write_csv(table, p))
    save(
        "judgments.jsonl",
        lambda p: table.to_json(p, orient="records", lines=True, date_format="iso", date_unit="us"),
    )
    save("metrics.parquet", lambda p: data.metrics.to_parquet(p, index=False))
    save("metrics.csv", lambda p: runfolder.write_csv(data.metrics, p))
    statistics = a.to_dict()
    statistics["campaign_name"] = data.name
    save(STATISTICS, lambda p: p.write_text(json.dumps(statistics, indent=2, default=str)))
    save("statistics.csv", lambda p: runfolder.write_csv(a.statistics_table(), p))
    for name, frame in a.tables().items():
        save(f"{name}.csv", lambda p, f=frame: runfolder.write_csv(f, p))
    if a.options.use_adjudicated and data.adjudications is not None:  # what the verdict used, to reanalyse
        decided = data.adjudications[["item_id", "winner"]]
        save(ADJUDICATIONS, lambda p: runfolder.write_csv(decided, p))
    log = runfolder.read_log(data.run_dir)
    run_config = runfolder.read_config(data.run_dir)
    blocks = report_blocks(data, a, log, config_to_dict(run_config) if run_config else {})
    svg = loss_curve_svg(log)
    if svg:
        save("loss_curve.svg", lambda p: p.write_text(svg))
    save("report.md", lambda p: p.write_text(render_markdown(blocks)))
    save("report.html", lambda p: p.write_text(render_html(blocks)))
    manifest = {
        "campaign_id": data.campaign_id,
        "campaign_name": data.name,
        "options": statistics["options"],
        # the competence and adjudication choice in words ("" when every participant counts as judged)
        "who_counts": a.evidence.who_counts,
        "design": data.design,
        "environment": a.environment,
        "files": [f.name for f in files],
        "reanalyse": "annotations.report.load_export(DIR) then annotations.stats.analysis.analyze(...)",
    }
    save("manifest.json", lambda p: p.write_text(json.dumps(manifest, indent=2, default=str)))
    return files


@dataclass
class LoadedExport:
    """An export read back: the frames and the options it was analysed with."""

    campaign_id: str
    judgments: pd.DataFrame
    scores: pd.DataFrame
    metrics: pd.DataFrame
    options: AnalysisOptions
    statistics: dict
    adjudications: pd.DataFrame | None = None  # written when the options use the adjudicated labels

    def analyze(self) -> CampaignAnalysis:
        return analyze(
            self.judgments,
            self.scores,
            self.metrics,
            self.options,
            self.campaign_id,
            adjudications=self.adjudications,
        )


def options_from_dict(values: dict) -> AnalysisOptions:
    """AnalysisOptions from the dict written in statistics.json (tuples restored)."""
    values = dict(values)
    for key in ("exclude_annotators", "correlation_levels", "correlation_methods"):
        if key in values and values[key] is not None:
            values[key] = tuple(values[key])
    return AnalysisOptions(**values)


def is_export(directory: str | Path) -> bool:
    """Does `directory` hold an export (its statistics.json; a campaign without judgments has none)?"""
    return (Path(directory) / STATISTICS).is_file()


def read_statistics(directory: str | Path) -> dict:
    """An export folder's statistics.json (every statistic, the options, the campaign id); AnnotationError
    saying why when the folder is not an export or the file is damaged."""
    stats_path = Path(directory) / STATISTICS
    if not stats_path.is_file():
        raise AnnotationError(
            f"{stats_path} not found: not an export folder (run `.venv/bin/python -m annotations export`)"
        )
    try:
        statistics = json.loads(stats_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AnnotationError(
            f"{stats_path} cannot be read ({type(e).__name__}); export the campaign again"
        ) from None
    if not isinstance(statistics, dict) or not isinstance(statistics.get("options"), dict):
        raise AnnotationError(f"{stats_path} holds no analysis options; export the campaign again")
    return statistics


def export_options(directory: str | Path) -> AnalysisOptions:
    """The AnalysisOptions an export was analysed with, so a deck or a re-analysis shows the same numbers."""
    return options_from_dict(read_statistics(directory)["options"])


def load_export(directory: str | Path, fmt: str = "parquet") -> LoadedExport:
    """Read an export written by write_export; `fmt` picks the judgments file (parquet, csv or jsonl)."""
    folder = Path(directory)
    statistics = read_statistics(folder)
    if fmt == "parquet":
        table = pd.read_parquet(folder / "judgments.parquet")
        metrics = pd.read_parquet(folder / "metrics.parquet")
    elif fmt == "csv":
        table = runfolder.read_csv(folder / "judgments.csv", parse_dates=["served_at", "submitted_at"])
        metrics = runfolder.read_csv(folder / "metrics.csv")
    elif fmt == "jsonl":
        table = pd.read_json(
            folder / "judgments.jsonl", lines=True, convert_dates=["served_at", "submitted_at"]
        )
        metrics = runfolder.read_csv(folder / "metrics.csv")
    else:
        raise AnnotationError(f"format must be parquet, csv or jsonl; got {fmt!r}")
    for column in ("item_id", "annotator_id", "judgment_id", "assignment_id", "repeat_of", "campaign_id"):
        if column in table:
            table[column] = (
                table[column]
                .astype(object)
                .where(table[column].notna(), None)
                .map(lambda v: v if v is None else str(v))
            )
    if "item_id" in metrics:
        metrics["item_id"] = metrics["item_id"].astype(str)
    judgments, scores = split_scores(table)
    return LoadedExport(
        campaign_id=statistics["campaign_id"],
        judgments=judgments,
        scores=scores,
        metrics=metrics,
        options=options_from_dict(statistics["options"]),
        statistics=statistics,
        adjudications=runfolder.read_csv(folder / ADJUDICATIONS, dtype={"item_id": str})
        if (folder / ADJUDICATIONS).is_file()
        else None,
    )


def export_bytes(data: CampaignData, a: CampaignAnalysis) -> bytes:
    """The export as a zip archive in memory, for the results page's download button."""
    import io
    import tempfile
    import zipfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_export(data, a, tmp)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, arcname=f"{data.campaign_id}/{path.name}")
    return buffer.getvalue()

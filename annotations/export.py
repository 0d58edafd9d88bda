"""Statistics on the command line and the export of a campaign, for the researcher who presents or archives
the result: `python -m annotations stats --db FILE [--json]` and `python -m annotations export --db FILE --out
DIR`. The export holds the judgments (CSV, Parquet, JSONL), every statistic (JSON and CSV, with method, level,
n, intervals, seed and package versions) and a Markdown/HTML report with the loss curve, the metric table, the
human verdict, agreement, metric-human correlations and a plain-language reading. `load_export` reads an
export back; `analyze` on it reproduces every statistic exactly.
"""

from __future__ import annotations

import argparse
import html
import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from annotations import stats
from annotations.analysis import AnalysisOptions, CampaignAnalysis, analyze
from annotations.errors import AnnotationError

JUDGMENT_COLUMNS = [
    "judgment_id", "campaign_id", "item_id", "annotator_id", "version", "assignment_id", "system_a", "system_b",
    "shown_left", "shown_right", "choice", "winner", "comment", "served_at", "submitted_at", "duration_s",
    "is_gold", "gold_winner", "is_repeat", "repeat_of", "left_length", "right_length",
]  # fmt: skip
SCORE_PREFIX = "score"  # per-criterion score columns: score:<criterion>:<system>


# --------------------------------------------------------------------------- reading the store and run folders


@dataclass
class CampaignData:
    """Everything the statistics and the report need about one campaign."""

    campaign_id: str
    name: str
    judgments: pd.DataFrame
    scores: pd.DataFrame
    metrics: pd.DataFrame
    run_dir: str | None = None
    design: dict | None = None  # the public record of the side/order design (campaigns.design_record)


def load_campaign(con, campaign_id: str) -> CampaignData:
    """The frames of one campaign from the store (annotations.judgments / annotations.campaigns)."""
    from annotations import campaigns, judgments

    listing = campaigns.list_campaigns(con)
    row = listing[listing["campaign_id"] == campaign_id]
    if row.empty:
        known = ", ".join(listing["campaign_id"].astype(str)) or "none"
        raise AnnotationError(f"campaign {campaign_id!r} not found; campaigns are: {known}")
    run_dir = row.iloc[0].get("run_dir")
    # the three queries run at once, each on its own cursor (read_frame takes one per call); DuckDB and the Arrow
    # conversion release the GIL, so a cold results page waits for the slowest query, not the sum
    readers = (judgments.judgments_frame, judgments.scores_frame, campaigns.metrics_frame)
    with ThreadPoolExecutor(max_workers=len(readers)) as pool:
        futures = [pool.submit(reader, con, campaign_id) for reader in readers]
        judgment_rows, score_rows, metric_rows = (f.result() for f in futures)
    return CampaignData(
        campaign_id=campaign_id,
        name=str(row.iloc[0]["name"]),
        judgments=judgment_rows,
        scores=score_rows,
        metrics=metric_rows,
        run_dir=None
        if run_dir is None or (isinstance(run_dir, float) and math.isnan(run_dir))
        else str(run_dir),
        design=campaigns.design_record(con, campaign_id),
    )


def data_version(con, campaign_id: str) -> str:
    """Changes whenever a judgment of the campaign is written or edited (judgments are append-only versions):
    the cache key of the results page."""
    from annotations import db

    count, latest = (
        db.read(con)
        .execute("SELECT count(*), max(submitted_at) FROM judgments WHERE campaign_id = ?", [campaign_id])
        .fetchone()
    )
    return f"{count}:{latest}"


def read_train_log(run_dir: str | Path | None) -> pd.DataFrame:
    """The run's train_log.jsonl (step, loss, eval_loss, ...) as a frame; empty when there is none."""
    if not run_dir:
        return pd.DataFrame()
    path = Path(run_dir) / "train_log.jsonl"
    if not path.is_file():
        return pd.DataFrame()
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line being written while we read
    return pd.DataFrame(rows)


def read_run_config(run_dir: str | Path | None) -> dict:
    """The run's config.json (TrainConfig), or {}."""
    path = Path(run_dir) / "config.json" if run_dir else None
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}


# --------------------------------------------------------------------------- judgments with scores, and back


def judgments_with_scores(judgments: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The judgments table of the export: one row per judgment with the shown-left system, the de-randomized
    winner, timestamps, duration, pseudonymous annotator id, version and one column per criterion and system."""
    out = judgments[[c for c in JUDGMENT_COLUMNS if c in judgments.columns]].copy()
    if {"duration_s", "left_length", "right_length"} <= set(out.columns):
        out["too_fast"] = stats.too_fast(out).to_numpy()  # default thresholds: stats.QualityThresholds
    if not scores.empty:
        wide = scores.pivot_table(
            index="judgment_id", columns=["criterion", "system"], values="score", aggfunc="first"
        )
        wide.columns = [f"{SCORE_PREFIX}:{criterion}:{system}" for criterion, system in wide.columns]
        out = out.merge(wide.reset_index(), on="judgment_id", how="left")
    return out


def split_scores(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inverse of judgments_with_scores: (judgments, long scores)."""
    score_columns = [c for c in table.columns if str(c).startswith(f"{SCORE_PREFIX}:")]
    judgments = table.drop(columns=[*score_columns, "too_fast"], errors="ignore")
    if not score_columns:
        return judgments, pd.DataFrame(
            columns=["judgment_id", "item_id", "annotator_id", "criterion", "system", "score"]
        )
    long = table[["judgment_id", "campaign_id", "item_id", "annotator_id", *score_columns]].melt(
        id_vars=["judgment_id", "campaign_id", "item_id", "annotator_id"],
        var_name="column",
        value_name="score",
    )
    long = long.dropna(subset=["score"])
    parts = long["column"].str.split(":", n=2, expand=True)
    long = long.assign(criterion=parts[1], system=parts[2], score=long["score"].astype(int)).drop(
        columns="column"
    )
    order = {j: i for i, j in enumerate(judgments["judgment_id"])}
    long = long.sort_values(
        ["judgment_id", "criterion", "system"], key=lambda s: s.map(order) if s.name == "judgment_id" else s
    )
    return judgments, long.reset_index(drop=True)


# --------------------------------------------------------------------------- plain-language reading


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def _num(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def interpret(a: CampaignAnalysis) -> list[str]:
    """A few sentences a reviewer can read without the tables: verdict, agreement, metrics, biases, what next."""
    lines = []
    w = a.win
    pct = {
        "drop": "of decisive judgments",
        "half": "of judgments (ties count half)",
        "separate": "of all judgments",
    }
    if w.win_rate is None:
        lines.append(f"No verdict yet: {w.reason}.")
    else:
        low, high = (w.boot_low, w.boot_high) if w.boot_low is not None else (w.wilson_low, w.wilson_high)
        if low is not None and low > 0.5:
            verdict = f"Humans preferred **{w.system}** over {w.opponent}"
            tail = "the interval excludes 50%, so this is unlikely to be chance"
        elif high is not None and high < 0.5:
            verdict = f"Humans preferred **{w.opponent}** over {w.system}: {w.system} won only"
            tail = "the interval is below 50%: the fine-tune made outputs worse for these judges"
        else:
            verdict = f"No clear winner: {w.system} won"
            tail = "the interval includes 50%, so these judgments cannot tell the systems apart"
        lines.append(
            f"{verdict} {_pct(w.win_rate)} {pct[w.tie_policy]} (95% CI {_pct(low)}–{_pct(high)}, "
            f"{w.n_items} items, item bootstrap; sign test p = {w.sign_test_p:.2g}); {tail}. "
            f"Ties or 'both bad': {_pct(w.tie_rate)}."
            if w.sign_test_p is not None
            else f"{verdict} {_pct(w.win_rate)} {pct[w.tie_policy]}; {tail}."
        )
    for r in a.criteria.itertuples():
        if r.mean_diff is not None and r.ci_low is not None and not math.isnan(r.mean_diff):
            direction = "higher" if r.ci_low > 0 else "lower" if r.ci_high < 0 else "not clearly different"
            lines.append(
                f"On {r.criterion}, {a.system} scored {_num(r.mean_diff)} points vs {a.opponent} "
                f"(95% CI {_num(r.ci_low)} to {_num(r.ci_high)}): {direction}."
            )
    pref = a.agreement.iloc[0]
    if pref["alpha"] is None or (isinstance(pref["alpha"], float) and math.isnan(pref["alpha"])):
        lines.append(f"Agreement on the preference cannot be computed: {pref['reason']}.")
    else:
        alpha = float(pref["alpha"])
        # Krippendorff (2004, "Content Analysis", 2nd ed., p. 241): >= .800 reliable, >= .667 tentative
        quality = "reliable" if alpha >= 0.8 else "only tentatively reliable" if alpha >= 0.667 else "low"
        lines.append(
            f"Annotators agree on which output is better with Krippendorff's alpha = {alpha:.2f} "
            f"(95% CI {_num(pref['ci_low'])} to {_num(pref['ci_high'])}): {quality} by Krippendorff's thresholds "
            "(.667 tentative, .800 reliable). Subjective preference often sits below these; read the verdict "
            "with its interval."
        )
    acc = a.pairwise_accuracy.dropna(subset=["accuracy"])
    if not acc.empty:
        best = acc.sort_values("accuracy", ascending=False).iloc[0]
        useless = acc[(acc["ci_low"] <= 0.5) & (acc["ci_high"] >= 0.5)]["metric"].tolist()
        figure = (
            f"{_pct(best['accuracy'])} of items (95% CI {_pct(best['ci_low'])}–{_pct(best['ci_high'])}, "
            f"n = {int(best['n'])})"
        )
        if len(useless) == len(acc):
            lines.append(
                "None of the automatic metrics points the same way as the human majority more often than a coin "
                f"flip would (best: {best['metric']}, {figure}): here, a metric moving says little about what "
                "these judges prefer."
            )
        else:
            line = (
                f"Automatic metrics: {best['metric']} points the same way as the human majority on {figure}."
            )
            if useless:
                line += f" No better than a coin flip here: {', '.join(useless)}."
            lines.append(line)
    flagged = a.annotators[a.annotators["flagged"]]
    if not flagged.empty:
        names = "; ".join(f"{r.annotator_id} ({r.flags})" for r in flagged.itertuples())
        excluded = "excluded" if a.used["excluded_annotators"] else "still included (exclude them to check)"
        lines.append(f"Quality checks flag {len(flagged)} annotator(s): {names}; {excluded}.")
    if a.length.share is not None and a.length.p_value is not None and a.length.p_value < 0.01:
        lines.append(
            f"Length bias: the longer output won {_pct(a.length.share)} of decisive judgments (p = "
            f"{a.length.p_value:.2g}); part of the preference may be for length."
        )
    p = a.power
    if p.more_items_for_target is not None:
        lines.append(
            f"The win-rate interval is ±{100 * p.win_rate_half_width:.1f} points; about {p.more_items_for_target} "
            f"more items at {p.judgments_per_item:.1f} judgments each would bring it to ±{100 * p.target_half_width:.0f} "
            f"points, and {p.items_to_detect} items in all would detect a {100 * p.detect_difference:.0f}-point "
            f"difference from 50% with {100 * p.power:.0f}% power."
        )
    return lines


# --------------------------------------------------------------------------- the report


def loss_curve_svg(log: pd.DataFrame, width: int = 560, height: int = 240) -> str | None:
    """A small SVG line plot of training loss (and eval loss) by step; None without a log."""
    if log.empty or "step" not in log or "loss" not in log:
        return None
    series = [("loss", "#4c78a8"), ("eval_loss", "#f58518")]
    data = {name: log[["step", name]].dropna() for name, _ in series if name in log}
    data = {k: v for k, v in data.items() if not v.empty}
    if not data:
        return None
    steps = pd.concat([d["step"] for d in data.values()])
    values = pd.concat([d[name] for name, d in data.items()])
    x0, x1 = float(steps.min()), float(steps.max()) or 1.0
    y0, y1 = float(values.min()), float(values.max())
    if y1 == y0:
        y1 = y0 + 1
    pad = 40

    def xy(step, value):
        x = pad + (step - x0) / ((x1 - x0) or 1) * (width - 2 * pad)
        y = height - pad - (value - y0) / (y1 - y0) * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">'
    ]
    parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>')
    parts.append(
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
    )
    parts.append(f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>')
    parts.append(f'<text x="{pad}" y="{height - 10}">step {x0:.0f}</text>')
    parts.append(f'<text x="{width - pad}" y="{height - 10}" text-anchor="end">step {x1:.0f}</text>')
    parts.append(f'<text x="4" y="{pad}">{y1:.3g}</text><text x="4" y="{height - pad}">{y0:.3g}</text>')
    colours = dict(series)
    for i, (name, frame) in enumerate(data.items()):
        points = " ".join(xy(s, v) for s, v in zip(frame["step"], frame[name]))
        parts.append(f'<polyline fill="none" stroke="{colours[name]}" stroke-width="1.5" points="{points}"/>')
        parts.append(f'<text x="{width - pad - 90}" y="{pad + 14 * i}" fill="{colours[name]}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _table(df: pd.DataFrame, columns: list[str] | None = None, digits: int = 3) -> pd.DataFrame:
    df = df[columns] if columns else df
    return df.map(
        lambda v: (
            round(v, digits)
            if isinstance(v, float) and not math.isnan(v)
            else ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
        )
    )


def report_blocks(
    data: CampaignData, a: CampaignAnalysis, log: pd.DataFrame, config: dict
) -> list[tuple[str, object]]:
    """The report as blocks (kind, content): h1/h2 headings, paragraphs, bullet lists, tables and the SVG."""
    o = a.options
    blocks: list[tuple[str, object]] = [("h1", f"Did the fine-tune help? {data.name}")]
    blocks.append(("h2", "In plain words"))
    blocks.append(("list", interpret(a)))
    blocks.append(("h2", "Setup"))
    setup = [
        f"Campaign `{a.campaign_id}`: {a.system} (fine-tuned) against {a.opponent}, blind pairwise comparison with "
        "sides randomized per judgment.",
        *(
            [
                f"Sides: each annotator's own random design `{data.design['design_id']}` (permuted blocks of "
                f"{'/'.join(map(str, data.design['side_block_sizes']))} pairs, each system left in half of each "
                f"block, never more than {data.design['side_max_imbalance']} apart); items in an order of each "
                "annotator's own."
            ]
            if data.design and data.design.get("design_id")
            else []
        ),
        f"Judgments used: {a.used['judgments_used']} of {a.used['judgments_total']} on {a.used['items_used']} items "
        f"from {a.used['annotators_used']} annotators; repeats left out: {a.used['repeats_left_out']}; gold left out: "
        f"{a.used['gold_left_out']}; excluded annotators: {', '.join(a.used['excluded_annotators']) or 'none'}.",
        f"Tie policy: {o.tie_policy} ({stats.TIE_POLICY_HELP[o.tie_policy]}). Intervals: {int(100 * o.confidence)}%, "
        f"{o.n_boot} bootstrap resamples over items, seed {o.seed}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in a.environment.items()),
    ]
    if config:
        keys = [
            "base_model",
            "task",
            "lora_r",
            "lora_alpha",
            "learning_rate",
            "num_epochs",
            "max_steps",
            "seed",
        ]
        setup.append("Training run: " + ", ".join(f"{k} = {config[k]}" for k in keys if k in config))
    blocks.append(("list", setup))
    blocks.append(("h2", "Training"))
    svg = loss_curve_svg(log)
    if svg:
        blocks.append(("svg", svg))
        if "eval_loss" in log and log["eval_loss"].notna().any():
            blocks.append(
                (
                    "p",
                    f"Best eval loss {log['eval_loss'].min():.4f}; final training loss {log['loss'].dropna().iloc[-1]:.4f}.",
                )
            )
    else:
        blocks.append(("p", "No train_log.jsonl found for this campaign's run."))
    blocks.append(("h2", "Automatic metrics on the campaign's items"))
    if a.metric_table.empty:
        blocks.append(("p", "No automatic metrics were imported with this campaign."))
    else:
        blocks.append(("table", _table(a.metric_table)))
    blocks.append(("h2", "Human verdict"))
    blocks.append(("table", _table(a.win_by_policy, ["tie_policy", "wins", "losses", "ties", "both_bad", "win_rate",
                                                     "boot_low", "boot_high", "wilson_low", "wilson_high", "sign_test_p", "n_used", "n_items"])))  # fmt: skip
    if not a.criteria.empty:
        blocks.append(("table", _table(a.criteria, ["criterion", "mean_opponent", "mean_system", "mean_diff", "ci_low",
                                                    "ci_high", "t_p", "n", "n_items", "reason"])))  # fmt: skip
    if a.bradley_terry is not None:
        blocks.append(("table", _table(a.bradley_terry.table)))
    blocks.append(("h2", "Agreement"))
    blocks.append(
        (
            "table",
            _table(
                a.agreement,
                ["target", "level", "alpha", "ci_low", "ci_high", "n_units", "n_annotators", "reason"],
            ),
        )
    )
    blocks.append(("p", f"Fleiss' kappa on the preference: {_num(a.fleiss.kappa)} ({a.fleiss.n_items} items with "
                        f"{a.fleiss.raters_per_item} ratings each){'; ' + a.fleiss.reason if a.fleiss.reason else ''}."))  # fmt: skip
    blocks.append(("h2", "Do the metrics agree with the humans?"))
    if a.correlations.empty and a.pairwise_accuracy.empty:
        blocks.append(("p", "No automatic metrics to compare."))
    else:
        if not a.pairwise_accuracy.empty:
            blocks.append(
                (
                    "table",
                    _table(
                        a.pairwise_accuracy,
                        ["metric", "accuracy", "ci_low", "ci_high", "n", "n_human_ties", "n_metric_ties"],
                    ),
                )
            )
        if not a.preference_correlations.empty:
            blocks.append(
                (
                    "table",
                    _table(
                        a.preference_correlations,
                        ["metric", "method", "coefficient", "ci_low", "ci_high", "n"],
                    ),
                )
            )
        if not a.correlations.empty:
            shown = a.correlations[a.correlations["method"] == "kendall"]
            blocks.append(
                (
                    "table",
                    _table(
                        shown,
                        [
                            "metric",
                            "human",
                            "level",
                            "coefficient",
                            "ci_low",
                            "ci_high",
                            "n",
                            "n_skipped",
                            "reason",
                        ],
                    ),
                )
            )
            blocks.append(("p", "Kendall tau-b shown; Spearman and Pearson are in statistics.csv."))
    blocks.append(("h2", "Annotators"))
    blocks.append(("table", _table(a.annotators, ["annotator_id", "n_judgments", "median_s", "fast_share", "left_share", "left_p",
                                                  "gold_n", "gold_accuracy", "self_consistency", "majority_agreement", "flags", "excluded"])))  # fmt: skip
    return blocks


def _md_table(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = [
        "| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in df.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def render_markdown(blocks, svg_name: str = "loss_curve.svg") -> str:
    out = []
    for kind, content in blocks:
        if kind == "h1":
            out.append(f"# {content}")
        elif kind == "h2":
            out.append(f"## {content}")
        elif kind == "p":
            out.append(str(content))
        elif kind == "list":
            out.append("\n".join(f"- {line}" for line in content))
        elif kind == "table":
            out.append(_md_table(content))
        elif kind == "svg":
            out.append(f"![training loss]({svg_name})")
    return "\n\n".join(out) + "\n"


def render_html(blocks) -> str:
    def inline(text: str) -> str:
        escaped = html.escape(str(text))
        parts = escaped.split("**")
        escaped = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
        parts = escaped.split("`")
        return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))

    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Report</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px}"
        "</style></head><body>"
    ]
    for kind, content in blocks:
        if kind == "h1":
            out.append(f"<h1>{inline(content)}</h1>")
        elif kind == "h2":
            out.append(f"<h2>{inline(content)}</h2>")
        elif kind == "p":
            out.append(f"<p>{inline(content)}</p>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{inline(line)}</li>" for line in content) + "</ul>")
        elif kind == "table":
            out.append(content.to_html(index=False, border=0, na_rep=""))
        elif kind == "svg":
            out.append(str(content))
    out.append("</body></html>")
    return "\n".join(out)


# --------------------------------------------------------------------------- writing and reading an export


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
    save("judgments.csv", lambda p: table.to_csv(p, index=False))
    save(
        "judgments.jsonl",
        lambda p: table.to_json(p, orient="records", lines=True, date_format="iso", date_unit="us"),
    )
    save("metrics.parquet", lambda p: data.metrics.to_parquet(p, index=False))
    save("metrics.csv", lambda p: data.metrics.to_csv(p, index=False))
    statistics = a.to_dict()
    statistics["campaign_name"] = data.name
    save("statistics.json", lambda p: p.write_text(json.dumps(statistics, indent=2, default=str)))
    save("statistics.csv", lambda p: a.statistics_table().to_csv(p, index=False))
    for name in ("agreement", "correlations", "preference_correlations", "pairwise_accuracy", "annotators",
                 "win_by_policy", "criteria", "metric_table", "cohen", "position", "speed", "leave_one_out"):  # fmt: skip
        frame = getattr(a, name)
        save(f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))
    log = read_train_log(data.run_dir)
    blocks = report_blocks(data, a, log, read_run_config(data.run_dir))
    svg = loss_curve_svg(log)
    if svg:
        save("loss_curve.svg", lambda p: p.write_text(svg))
    save("report.md", lambda p: p.write_text(render_markdown(blocks)))
    save("report.html", lambda p: p.write_text(render_html(blocks)))
    manifest = {
        "campaign_id": data.campaign_id,
        "campaign_name": data.name,
        "options": statistics["options"],
        "design": data.design,
        "environment": a.environment,
        "files": [f.name for f in files],
        "reanalyse": "annotations.export.load_export(DIR) then annotations.analysis.analyze(...)",
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

    def analyze(self) -> CampaignAnalysis:
        return analyze(self.judgments, self.scores, self.metrics, self.options, self.campaign_id)


def options_from_dict(values: dict) -> AnalysisOptions:
    """AnalysisOptions from the dict written in statistics.json (tuples restored)."""
    values = dict(values)
    for key in ("exclude_annotators", "correlation_levels", "correlation_methods"):
        if key in values and values[key] is not None:
            values[key] = tuple(values[key])
    return AnalysisOptions(**values)


def load_export(directory: str | Path, fmt: str = "parquet") -> LoadedExport:
    """Read an export written by write_export; `fmt` picks the judgments file (parquet, csv or jsonl)."""
    folder = Path(directory)
    stats_path = folder / "statistics.json"
    if not stats_path.is_file():
        raise AnnotationError(
            f"{stats_path} not found: not an export folder (run `python -m annotations export`)"
        )
    statistics = json.loads(stats_path.read_text())
    if fmt == "parquet":
        table = pd.read_parquet(folder / "judgments.parquet")
        metrics = pd.read_parquet(folder / "metrics.parquet")
    elif fmt == "csv":
        table = pd.read_csv(folder / "judgments.csv", parse_dates=["served_at", "submitted_at"])
        metrics = pd.read_csv(folder / "metrics.csv")
    elif fmt == "jsonl":
        table = pd.read_json(
            folder / "judgments.jsonl", lines=True, convert_dates=["served_at", "submitted_at"]
        )
        metrics = pd.read_csv(folder / "metrics.csv")
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
    )


# --------------------------------------------------------------------------- the command line


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--db", required=True, help="the DuckDB file of the app (FT_APP_DB)")
    parser.add_argument(
        "--campaign", action="append", help="campaign id (repeat for several; default: all with judgments)"
    )
    parser.add_argument(
        "--tie-policy", choices=stats.TIE_POLICIES, default="drop", help="how ties count in the win rate"
    )
    parser.add_argument("--exclude-annotators", default="", help="comma-separated annotator ids to leave out")
    parser.add_argument(
        "--exclude-flagged", action="store_true", help="leave out annotators the quality checks flag"
    )
    parser.add_argument("--include-gold", action="store_true", help="count gold items in the verdict")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    return parser


def _options(args) -> AnalysisOptions:
    excluded = tuple(a.strip() for a in args.exclude_annotators.split(",") if a.strip())
    return AnalysisOptions(
        tie_policy=args.tie_policy, exclude_annotators=excluded, exclude_flagged=args.exclude_flagged,
        include_gold=args.include_gold, n_boot=args.n_boot, seed=args.seed,
    )  # fmt: skip


def _campaigns(con, wanted: list[str] | None) -> list[str]:
    from annotations import campaigns

    listing = campaigns.list_campaigns(con)
    if wanted:
        missing = [c for c in wanted if c not in set(listing["campaign_id"])]
        if missing:
            raise AnnotationError(
                f"campaign(s) {', '.join(missing)} not found; campaigns are: {', '.join(listing['campaign_id']) or 'none'}"
            )
        return wanted
    with_judgments = listing[listing.get("n_judgments", pd.Series(1, index=listing.index)) > 0]
    if with_judgments.empty:
        raise AnnotationError("no campaign has judgments yet: nothing to report")
    return list(with_judgments["campaign_id"])


def _open(path: str):
    from annotations import db

    if not Path(path).is_file():
        raise AnnotationError(f"{path} not found: pass the app's DuckDB file with --db (FT_APP_DB)")
    return db.connect(path, read_only=True)


def summary_text(data: CampaignData, a: CampaignAnalysis) -> str:
    """The stats command's human-readable output."""
    lines = [f"campaign {a.campaign_id} ({data.name}): {a.system} vs {a.opponent}", ""]
    lines += [f"* {line.replace('**', '')}" for line in interpret(a)]
    w = a.win
    lines += ["", f"win rate ({w.tie_policy}): {_num(w.win_rate, 3)}  bootstrap [{_num(w.boot_low, 3)}, "
              f"{_num(w.boot_high, 3)}]  Wilson [{_num(w.wilson_low, 3)}, {_num(w.wilson_high, 3)}]  "
              f"wins/losses/ties/both-bad {w.wins}/{w.losses}/{w.ties}/{w.both_bad}"]  # fmt: skip
    for r in a.agreement.itertuples():
        lines.append(f"alpha {r.target} ({r.level}): {_num(r.alpha, 3)} [{_num(r.ci_low, 3)}, {_num(r.ci_high, 3)}]"
                     f" n={r.n_units}" + (f"  ({r.reason})" if r.reason else ""))  # fmt: skip
    lines.append(f"used: {a.used['judgments_used']} judgments, excluded annotators: "
                 f"{', '.join(a.used['excluded_annotators']) or 'none'}; {a.seconds:.2f} s")  # fmt: skip
    return "\n".join(lines)


def main_stats(argv: list[str]) -> int:
    """`python -m annotations stats --db FILE [--json]`: every statistic of each campaign."""
    parser = _parser("python -m annotations stats", "Print every statistic of a campaign.")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    con = _open(args.db)
    try:
        results = []
        for campaign_id in _campaigns(con, args.campaign):
            data = load_campaign(con, campaign_id)
            a = analyze(data.judgments, data.scores, data.metrics, _options(args), campaign_id)
            results.append((data, a))
    finally:
        con.close()
    if args.json:
        payload = [{"campaign_name": d.name, **a.to_dict()} for d, a in results]
        print(json.dumps(payload if len(payload) > 1 else payload[0], indent=2, default=str))
    else:
        print("\n\n".join(summary_text(d, a) for d, a in results))
    return 0


def main_export(argv: list[str]) -> int:
    """`python -m annotations export --db FILE --out DIR`: judgments, statistics and the report per campaign."""
    parser = _parser(
        "python -m annotations export", "Write judgments, statistics and the report of a campaign."
    )
    parser.add_argument("--out", required=True, help="folder to write into (one subfolder per campaign)")
    args = parser.parse_args(argv)
    con = _open(args.db)
    try:
        for campaign_id in _campaigns(con, args.campaign):
            data = load_campaign(con, campaign_id)
            a = analyze(data.judgments, data.scores, data.metrics, _options(args), campaign_id)
            files = write_export(data, a, Path(args.out) / campaign_id)
            print(f"{campaign_id}: wrote {len(files)} files to {Path(args.out) / campaign_id}")
    finally:
        con.close()
    return 0


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


__all__ = [
    "CampaignData", "LoadedExport", "export_bytes", "interpret", "judgments_with_scores", "load_campaign",
    "load_export", "main_export", "main_stats", "read_train_log", "render_html", "render_markdown", "write_export",
]  # fmt: skip

"""A small slide deck of one campaign, for the researcher who presents the result as is: training and validation
curves, the automatic metrics with their paired-bootstrap intervals, the human verdict with its interval,
agreement, the bias checks and three example pairs (the fine-tune's clearest win, its clearest loss and the
most contested item). Written as PNG charts, a Markdown deck in Marp's format (`marp deck.md` renders it) and
one self-contained HTML file (the charts inlined as data URIs).

Every chart and number comes from the same `CampaignAnalysis` and run folder the results page draws, so the
deck and the page cannot disagree. `python -m annotations export --db FILE --out DIR --slides` writes it beside
the export; the results page offers it as a download.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from annotations.report.campaign_data import CampaignData  # noqa: E402
from annotations.report.render import markdown_inline, markdown_text  # noqa: E402
from annotations.report.summary import interpret  # noqa: E402
from annotations.stats.campaign_analysis import CampaignAnalysis  # noqa: E402
from annotations.stats.preference import TIE_OUTCOMES  # noqa: E402
from ft_core import runfolder  # noqa: E402

EXCERPT_CHARS = 420  # an output longer than this is cut on the slide (the export has the whole text)
FIGSIZE = (8.0, 4.2)
DPI = 110


@dataclass
class Slide:
    """One slide: a title, Markdown lines (bullets, a table) and at most one chart (a PNG file name)."""

    title: str
    lines: list[str]
    chart: str | None = None


@dataclass
class ExamplePair:
    """An item shown as an example, why it was chosen, and its votes."""

    label: str  # best, worst, most contested
    item_id: str
    source: str
    opponent_output: str
    system_output: str
    wins: int  # judgments preferring the system
    losses: int
    ties: int


# ------------------------------------------------------------------------------------------ choosing examples


def example_items(judgments: pd.DataFrame, system: str, opponent: str) -> dict[str, str]:
    """{"best", "worst", "most contested"} -> item_id, from the judgments the verdict used: best is the item with the
    largest net preference for `system` ((wins - losses) / judgments; more judgments break ties), worst the
    smallest, most contested the item whose decisive votes are most evenly split (most judgments first)."""
    if judgments.empty:
        return {}
    winner = judgments["winner"].astype(str)
    votes = pd.DataFrame(
        {
            "item_id": judgments["item_id"].astype(str).to_numpy(),
            "win": (winner == system).to_numpy(),
            "loss": (winner == opponent).to_numpy(),
            "tie": winner.isin(TIE_OUTCOMES).to_numpy(),
        }
    )
    per_item = votes.groupby("item_id", sort=True).sum()
    per_item["n"] = per_item[["win", "loss", "tie"]].sum(axis=1)
    per_item["net"] = (per_item["win"] - per_item["loss"]) / per_item["n"]
    decisive = per_item["win"] + per_item["loss"]
    per_item["split"] = 1 - (per_item["win"] - per_item["loss"]).abs() / decisive.where(decisive > 0)
    ranked = per_item.reset_index()
    best = ranked.sort_values(["net", "n", "item_id"], ascending=[False, False, True]).iloc[0]["item_id"]
    worst = ranked.sort_values(["net", "n", "item_id"], ascending=[True, False, True]).iloc[0]["item_id"]
    contested = ranked[decisive.to_numpy() >= 2].sort_values(
        ["split", "n", "item_id"], ascending=[False, False, True]
    )
    chosen = {"best": best, "worst": worst}
    if not contested.empty:
        chosen["most contested"] = contested.iloc[0]["item_id"]
    return chosen


def example_pairs(con, data: CampaignData, a: CampaignAnalysis) -> list[ExamplePair]:
    """The three example pairs with their texts (read one item at a time from the store)."""
    from annotations.campaigns.facets import item_frames

    judgments = data.judgments
    if len(a.used_judgment_ids):
        judgments = judgments[judgments["judgment_id"].isin(set(a.used_judgment_ids))]
    pairs = []
    for label, item_id in example_items(judgments, a.system, a.opponent).items():
        one = item_frames(con, data.campaign_id, item_id)
        texts = dict(zip(one.outputs["system"].astype(str), one.outputs["output"].astype(str)))
        votes = judgments[judgments["item_id"].astype(str) == item_id]["winner"].astype(str)
        pairs.append(
            ExamplePair(
                label=label,
                item_id=item_id,
                source=str(one.item.iloc[0].get("source") or "") if not one.item.empty else "",
                opponent_output=texts.get(a.opponent, "(no output)"),
                system_output=texts.get(a.system, "(no output)"),
                wins=int((votes == a.system).sum()),
                losses=int((votes == a.opponent).sum()),
                ties=int(votes.isin(TIE_OUTCOMES).sum()),
            )
        )
    return pairs


# ------------------------------------------------------------------------------------------ charts


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _interval_chart(labels, values, lows, highs, rule: float, xlabel: str, path: Path) -> Path:
    """Points with interval bars and a dashed reference line: the page's interval_chart, as a PNG."""
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], max(1.6, 0.5 * len(labels) + 1.2)))
    y = list(range(len(labels)))[::-1]
    for yi, value, low, high in zip(y, values, lows, highs):
        low = value if low is None or (isinstance(low, float) and math.isnan(low)) else low
        high = value if high is None or (isinstance(high, float) and math.isnan(high)) else high
        ax.plot([low, high], [yi, yi], color="#4c78a8", linewidth=2.5)
        ax.plot([value], [yi], "o", color="#4c78a8", markersize=8)
    ax.axvline(rule, color="gray", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels)
    ax.set_xlabel(xlabel)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def training_chart(log: pd.DataFrame, path: Path) -> Path | None:
    """Training loss and validation (eval) loss by step; None without a train log."""
    if log.empty or "step" not in log or "loss" not in log:
        return None
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for column, label, colour in (
        ("loss", "training loss", "#4c78a8"),
        ("eval_loss", "validation loss", "#f58518"),
    ):
        if column in log:
            part = log[["step", column]].dropna()
            if not part.empty:
                ax.plot(
                    part["step"],
                    part[column],
                    marker="o" if len(part) < 12 else None,
                    label=label,
                    color=colour,
                )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def verdict_chart(a: CampaignAnalysis, path: Path) -> Path | None:
    """The win rate under each tie policy with its item-bootstrap and Wilson intervals (the page's chart)."""
    rows = a.win_by_policy.dropna(subset=["win_rate"])
    if rows.empty:
        return None
    labels, values, lows, highs = [], [], [], []
    for r in rows.itertuples():
        for kind, low, high in (
            ("item bootstrap", r.boot_low, r.boot_high),
            ("Wilson", r.wilson_low, r.wilson_high),
        ):
            labels.append(f"{r.tie_policy}: {kind}")
            values.append(r.win_rate)
            lows.append(low)
            highs.append(high)
    return _interval_chart(
        labels, values, lows, highs, 0.5, f"win rate of {a.system} over {a.opponent}", path
    )


def metrics_chart(a: CampaignAnalysis, path: Path) -> Path | None:
    """Each automatic metric's paired difference (system - opponent) with its paired-bootstrap interval, one row
    per metric on its own scale (BLEU's points and ROUGE's fractions do not share an axis)."""
    table = a.metric_table.dropna(subset=["delta"]) if not a.metric_table.empty else a.metric_table
    if table.empty:
        return None
    fig, axes = plt.subplots(len(table), 1, figsize=(FIGSIZE[0], 0.75 * len(table) + 0.9), squeeze=False)
    for ax, r in zip(axes[:, 0], table.itertuples()):
        low = r.delta if pd.isna(r.ci_low) else r.ci_low
        high = r.delta if pd.isna(r.ci_high) else r.ci_high
        ax.plot([low, high], [0, 0], color="#4c78a8", linewidth=2.5)
        ax.plot([r.delta], [0], "o", color="#4c78a8", markersize=8)
        ax.axvline(0, color="gray", linestyle="--", linewidth=1)
        span = max(abs(low), abs(high)) * 1.15 or 1.0  # a metric equal on every item: a unit scale
        ax.set_xlim(-span, span)
        ax.set_yticks([0], [str(r.metric)])
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel(
        f"{a.system} − {a.opponent} (paired bootstrap over items, 95%; each row its own scale)"
    )
    return _save(fig, path)


def agreement_chart(a: CampaignAnalysis, path: Path) -> Path | None:
    """Krippendorff's alpha of each target with its interval; None when no alpha is defined."""
    table = a.agreement.dropna(subset=["alpha"])
    if table.empty:
        return None
    labels = [f"{t} · {lv}" for t, lv in zip(table["target"], table["level"])]
    return _interval_chart(
        labels, list(table["alpha"]), list(table["ci_low"]), list(table["ci_high"]), 0.667,
        "Krippendorff's alpha (dashed: .667, tentative reliability)", path,
    )  # fmt: skip


def bias_chart(a: CampaignAnalysis, path: Path) -> Path | None:
    """Each annotator's share of 'left' choices (position bias), with a dashed line at one half."""
    position = a.position[a.position["annotator_id"] != "all"]
    if position.empty:
        return None
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], max(1.6, 0.32 * len(position) + 1.2)))
    colours = ["#e45756" if p is not None and p < 0.01 else "#4c78a8" for p in position["p_value"]]
    ax.barh(position["annotator_id"].astype(str), position["left_share"], color=colours)
    ax.axvline(0.5, color="gray", linestyle="--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of 'left' choices (red: p < 0.01)")
    return _save(fig, path)


# ------------------------------------------------------------------------------------------ the deck


def _pct(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def _num(x, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _excerpt(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


def _cell(text) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def build_slides(
    data: CampaignData, a: CampaignAnalysis, charts: dict[str, Path | None], examples
) -> list[Slide]:
    """The deck's slides, in order; `charts` maps a chart's name to its PNG (None when it has no data)."""
    w = a.win
    name = lambda key: charts[key].name if charts.get(key) else None  # noqa: E731
    slides = [
        Slide(
            f"Did the fine-tune help? {data.name}",
            [
                f"{a.system} (fine-tuned) against {a.opponent}: blind pairwise human comparison, sides randomized",
                f"{a.used['judgments_used']} judgments on {a.used['items_used']} items by "
                f"{a.used['annotators_used']} annotator{'' if a.used['annotators_used'] == 1 else 's'}",
                f"95% intervals: {a.options.n_boot} bootstrap resamples over items, seed {a.options.seed}",
            ],
        )
    ]
    log_lines = (
        ["Training loss and validation loss by step"]
        if charts.get("training")
        else ["No train_log.jsonl was found for this campaign's run."]
    )
    slides.append(Slide("Training and validation curves", log_lines, name("training")))
    if a.metric_table.empty:
        slides.append(Slide("Automatic metrics", ["No automatic metrics were imported with this campaign."]))
    else:
        table = [
            "| metric | " + f"{a.opponent} | {a.system} | difference | 95% CI |",
            "|---|---|---|---|---|",
        ]
        for r in a.metric_table.itertuples():
            table.append(
                f"| {_cell(r.metric)} | {_num(getattr(r, 'mean_opponent', None))} | {_num(getattr(r, 'mean_system', None))} "
                f"| {_num(r.delta)} | {_num(r.ci_low)} – {_num(r.ci_high)} |"
            )
        sentence = [m for m in runfolder.SENTENCE_COLUMNS.values() if m in set(a.metric_table["metric"])]
        if sentence:  # not the corpus figures of the run's own table, which pool n-gram counts over the items
            corpus = [c for c, m in runfolder.SENTENCE_COLUMNS.items() if m in sentence]
            table.insert(0, f"Means over the items; {', '.join(sentence)}: the mean of each item's own score, "
                         f"not the corpus {', '.join(corpus)} of the run's table")  # fmt: skip
        slides.append(Slide("Automatic metrics, paired bootstrap", table, name("metrics")))
    low, high = (w.boot_low, w.boot_high) if w.boot_low is not None else (w.wilson_low, w.wilson_high)
    slides.append(
        Slide(
            "The human verdict",
            [
                f"**{a.system} win rate ({w.tie_policy}): {_pct(w.win_rate)}**, 95% CI {_pct(low)} – {_pct(high)} "
                f"(item bootstrap)",
                f"Sign test p = {_num(w.sign_test_p, 3) if w.sign_test_p is None else f'{w.sign_test_p:.3g}'}; "
                f"wins / losses / ties: {w.wins} / {w.losses} / {w.ties + w.both_bad}",
                interpret(a)[0].replace("**", ""),
            ],
            name("verdict"),
        )
    )
    preference = a.agreement.iloc[0]
    if preference["alpha"] is None or pd.isna(preference["alpha"]):
        plan = a.agreement_plan
        lines = [f"Agreement cannot be measured yet: {preference['reason']}."]
        if plan is not None and plan.items_needed:
            lines.append(
                "A second annotator on the same items would need to judge about "
                + ", ".join(f"{n} items for alpha ± {hw:.2f}" for hw, n in plan.items_needed.items())
                + f" (assuming alpha ≈ {plan.assumed_alpha:.3f})."
            )
        slides.append(Slide("Agreement", lines))
    else:
        slides.append(
            Slide(
                "Agreement",
                [
                    f"Krippendorff's alpha on the preference: {_num(preference['alpha'])} "
                    f"(95% CI {_num(preference['ci_low'])} – {_num(preference['ci_high'])}, "
                    f"{int(preference['n_units'])} items)",
                    f"Fleiss' kappa: {_num(a.fleiss.kappa)}",
                ],
                name("agreement"),
            )
        )
    length = a.length
    overall = a.position[a.position["annotator_id"] == "all"]
    bias_lines = []
    if not overall.empty:
        row = overall.iloc[0]
        bias_lines.append(f"Position: 'left' chosen in {_pct(row['left_share'])} of {int(row['n'])} judgments "
                          f"(p = {row['p_value']:.3g})")  # fmt: skip
    bias_lines.append(
        "Length: "
        + (length.reason or f"the longer output won {_pct(length.share)} of {length.n} decisive judgments "
                            f"(p = {length.p_value:.3g})")
    )  # fmt: skip
    flagged = a.annotators[a.annotators["flagged"]]
    bias_lines.append(
        "Flagged annotators: "
        + ("; ".join(f"{r.annotator_id} ({r.flags})" for r in flagged.itertuples()) or "none")
    )
    slides.append(Slide("Bias checks", bias_lines, name("bias")))
    for pair in examples:
        slides.append(
            Slide(
                f"Example: {pair.label} ({pair.item_id})",
                [
                    f"Votes: {pair.wins} for {a.system}, {pair.losses} for {a.opponent}, {pair.ties} ties",
                    f"**Source:** {_excerpt(pair.source)}",
                    f"**{a.opponent}:** {_excerpt(pair.opponent_output)}",
                    f"**{a.system}:** {_excerpt(pair.system_output)}",
                ],
            )
        )
    return slides


def _marp_table_row(line: str) -> str:
    """A table line of a slide with each cell escaped (`_cell` has already turned a `|` in a cell into `/`)."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if all(re.fullmatch(r":?-+:?", c) for c in cells):
        return line
    return "| " + " | ".join(markdown_text(c, line_start=False) for c in cells) + " |"


def render_marp(slides: list[Slide], folder: str = "charts") -> str:
    """The deck as Marp Markdown: front matter, slides split by `---`, charts as images beside the file."""
    parts = ["---\nmarp: true\ntheme: default\npaginate: true\nsize: 16:9\n---\n"]
    for i, slide in enumerate(slides):
        title = markdown_inline(slide.title)  # names and outputs are text, never Markdown (render.py)
        body = [f"# {title}" if i == 0 else f"## {title}", ""]
        table = [_marp_table_row(line) for line in slide.lines if line.startswith("|")]
        body += [f"- {markdown_inline(line)}" for line in slide.lines if not line.startswith("|")]
        if table:
            body += ["", *table]
        if slide.chart:
            body += ["", f"![h:300]({folder}/{slide.chart})"]
        parts.append("\n".join(body) + "\n")
    return "\n---\n\n".join(parts)


def render_deck_html(slides: list[Slide], charts: dict[str, Path | None]) -> str:
    """One self-contained HTML file: a 16:9 box per slide, charts inlined as PNG data URIs."""
    images = {
        path.name: base64.b64encode(path.read_bytes()).decode("ascii")
        for path in charts.values()
        if path is not None
    }

    def inline(text: str) -> str:
        parts = html.escape(text).split("**")
        return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))

    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Slides</title><style>"
        "body{margin:0;background:#555;font-family:sans-serif}"
        "section{box-sizing:border-box;width:1120px;height:630px;margin:24px auto;padding:36px 56px;background:white;"
        "overflow:hidden;position:relative}h1{font-size:40px;margin:120px 0 24px}h2{font-size:30px;margin:0 0 12px}"
        "li{font-size:19px;margin:4px 0}table{border-collapse:collapse;font-size:16px;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px}img{display:block;max-height:330px;max-width:100%;margin:8px auto}"
        ".page{position:absolute;right:24px;bottom:16px;color:#888;font-size:14px}"
        "</style></head><body>"
    ]
    for i, slide in enumerate(slides):
        out.append("<section>")
        out.append(f"<h1>{inline(slide.title)}</h1>" if i == 0 else f"<h2>{inline(slide.title)}</h2>")
        bullets = [line for line in slide.lines if not line.startswith("|")]
        table = [line for line in slide.lines if line.startswith("|") and not line.startswith("|---")]
        if bullets:
            out.append("<ul>" + "".join(f"<li>{inline(line)}</li>" for line in bullets) + "</ul>")
        if table:
            rows = [[c.strip() for c in line.strip("|").split("|")] for line in table]
            head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
            )
            out.append(f"<table><tr>{head}</tr>{body}</table>")
        if slide.chart:
            out.append(
                f"<img alt='{html.escape(slide.chart)}' src='data:image/png;base64,{images[slide.chart]}'>"
            )
        out.append(f"<div class='page'>{i + 1} / {len(slides)}</div></section>")
    out.append("</body></html>")
    return "\n".join(out)


def write_slides(con, data: CampaignData, a: CampaignAnalysis, out_dir: str | Path) -> list[Path]:
    """Write charts/*.png, deck.md (Marp) and deck.html (self-contained) into out_dir; returns the files."""
    out = Path(out_dir)
    (out / "charts").mkdir(parents=True, exist_ok=True)
    folder = out / "charts"
    charts = {
        "training": training_chart(runfolder.read_log(data.run_dir), folder / "training_curves.png"),
        "metrics": metrics_chart(a, folder / "metrics.png"),
        "verdict": verdict_chart(a, folder / "verdict.png"),
        "agreement": agreement_chart(a, folder / "agreement.png"),
        "bias": bias_chart(a, folder / "position_bias.png"),
    }
    slides = build_slides(data, a, charts, example_pairs(con, data, a))
    deck_md, deck_html = out / "deck.md", out / "deck.html"
    deck_md.write_text(render_marp(slides))
    deck_html.write_text(render_deck_html(slides, charts))
    return [*(p for p in charts.values() if p is not None), deck_md, deck_html]


def slides_bytes(con, data: CampaignData, a: CampaignAnalysis) -> bytes:
    """The deck as a zip in memory, for the results page's button."""
    import tempfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_slides(con, data, a, tmp)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, arcname=f"{data.campaign_id}-slides/{path.relative_to(tmp)}")
    return buffer.getvalue()


def main_export_with_slides(argv: list[str]) -> int:
    """`python -m annotations export --db FILE --out DIR --slides`: the export, then a deck in DIR/<campaign>/slides/
    made from the export's own options (statistics.json), so deck and export show the same numbers."""
    from annotations import report, store
    from annotations.analysis import analyze
    from annotations.campaigns import list_campaigns

    argv = [a for a in argv if a != "--slides"]
    status = report.main_export(argv)
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--campaign", action="append")
    args, _ = parser.parse_known_args(argv)
    con = store.connect(args.db, read_only=True)
    try:
        listing = list_campaigns(con)
        wanted = args.campaign or list(listing["campaign_id"])
        for campaign_id in wanted:
            folder = Path(args.out) / campaign_id
            if not (folder / "statistics.json").is_file():
                continue  # not exported (no judgments)
            options = report.options_from_dict(
                json.loads((folder / "statistics.json").read_text())["options"]
            )
            data = report.load_campaign(con, campaign_id)
            a = analyze(data.judgments, data.scores, data.metrics, options, campaign_id)
            files = write_slides(con, data, a, folder / "slides")
            print(f"{campaign_id}: wrote {len(files)} slide files to {folder / 'slides'}")
    finally:
        con.close()
    return status

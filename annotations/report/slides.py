"""A small slide deck of one campaign, for the researcher who presents the result as is: training and
validation curves, the automatic metrics with their paired-bootstrap intervals, the human verdict with its
interval, agreement, the bias checks and three example pairs (the fine-tune's clearest win, its clearest loss
and the most contested item). Written as PNG charts, a Markdown deck in Marp's format (`marp deck.md` renders
it) and one self-contained HTML file (the charts inlined as data URIs).

Every chart and number comes from the same `CampaignAnalysis` and run folder the results page draws, so the
deck and the page cannot disagree. `python -m annotations export --db FILE --out DIR --slides` writes it
beside the export; the results page offers it as a download.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
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
from annotations.report.summary import agreement_sentence, interpret  # noqa: E402
from annotations.stats.campaign_analysis import CampaignAnalysis  # noqa: E402
from annotations.stats.preference import TIE_OUTCOMES  # noqa: E402
from ft_core import runfolder  # noqa: E402

EXCERPT_CHARS = 420  # an output longer than this is cut on the slide (the export has the whole text)
FIGSIZE = (8.0, 4.2)
DPI = 110
# A chart is drawn for the slide it goes on: at most this tall (inches; 4.4 x 110 dpi = 484 px, what a 16:9
# slide keeps under its title and a line of text), so a long list of metrics or policies makes the rows
# narrower instead of the figure taller than its slide.
MAX_FIG_HEIGHT = 4.4
SLIDE_PX = (1120, 630)  # the HTML deck's slide, 16:9
MARP_PX = (1280, 720)  # Marp's 16:9 slide


def _fig_height(rows: int, per_row: float, extra: float) -> float:
    """A chart's height for `rows` rows: per_row inches each plus `extra`, between 1.6 and MAX_FIG_HEIGHT."""
    return min(MAX_FIG_HEIGHT, max(1.6, per_row * rows + extra))


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
    """{"best", "worst", "most contested"} -> item_id, from the judgments the verdict used, each only where an
    item means what the title says, and never one item twice:

    - best: an item `system` won (more votes for it than for `opponent`), the largest net preference
      ((wins - losses) / judgments; more judgments, then the item id, break ties);
    - worst: an item `opponent` won, the largest net preference for it (never an item `system` won);
    - most contested: a split item (votes for both), the most evenly split (most judgments first), other than
      the two above.

    A label is missing when no item qualifies (in a unanimous campaign there is no worst and no contested
    item); `missing_examples` says why in words."""
    if judgments.empty:
        return {}
    per_item = _votes_per_item(judgments, system, opponent)
    ranked = per_item.reset_index()
    chosen: dict[str, str] = {}
    won = ranked[ranked["win"] > ranked["loss"]]
    if not won.empty:
        chosen["best"] = won.sort_values(["net", "n", "item_id"], ascending=[False, False, True]).iloc[0][
            "item_id"
        ]
    lost = ranked[ranked["loss"] > ranked["win"]]
    if not lost.empty:
        chosen["worst"] = lost.sort_values(["net", "n", "item_id"], ascending=[True, False, True]).iloc[0][
            "item_id"
        ]
    split = ranked[(ranked["win"] > 0) & (ranked["loss"] > 0) & ~ranked["item_id"].isin(set(chosen.values()))]
    if not split.empty:
        chosen["most contested"] = split.sort_values(
            ["split", "n", "item_id"], ascending=[False, False, True]
        ).iloc[0]["item_id"]
    return chosen


def _votes_per_item(judgments: pd.DataFrame, system: str, opponent: str) -> pd.DataFrame:
    """Per item: votes for `system` (win), for `opponent` (loss), ties, all (n), the net preference for
    `system` and how evenly the decisive votes split (1: half and half, 0: one-sided)."""
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
    return per_item


def missing_examples(chosen: dict[str, str], system: str, opponent: str) -> list[str]:
    """Why an example slide is left out, one line per missing label (empty when all three are shown)."""
    why = {
        "best": f"no best example: {system} won no item (no item had more votes for it than for {opponent})",
        "worst": (
            f"no worst example: {opponent} won no item (no item had more votes for it than for {system})"
        ),
        "most contested": "no contested example: no other item had votes for both systems",
    }
    return [line for label, line in why.items() if label not in chosen]


def example_pairs(con, data: CampaignData, a: CampaignAnalysis) -> list[ExamplePair]:
    """The three example pairs with their texts (read one item at a time from the store)."""
    from annotations.campaigns.facets import item_frames

    judgments = data.judgments
    if len(a.evidence.used_judgment_ids):
        judgments = judgments[judgments["judgment_id"].isin(set(a.evidence.used_judgment_ids))]
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
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], _fig_height(len(labels), 0.5, 1.2)))
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
    """The win rate under each tie policy with its item interval (Wilson, the item as the unit), its
    item-bootstrap interval where the bootstrap did not collapse, and the Wilson interval over judgments
    (the page's chart)."""
    rows = a.verdict.win_by_policy.dropna(subset=["win_rate"])
    if rows.empty:
        return None
    labels, values, lows, highs = [], [], [], []
    for r in rows.itertuples():
        for kind, low, high in (
            ("items, Wilson", r.item_low, r.item_high),
            ("item bootstrap", r.boot_low, r.boot_high),
            ("judgments, Wilson", r.wilson_low, r.wilson_high),
        ):
            if low is None or pd.isna(low):  # a bootstrap that collapsed to a point is left out, not drawn
                continue
            labels.append(f"{r.tie_policy}: {kind}")
            values.append(r.win_rate)
            lows.append(low)
            highs.append(high)
    return _interval_chart(
        labels, values, lows, highs, 0.5, f"win rate of {a.system} over {a.opponent}", path
    )


def metrics_chart(a: CampaignAnalysis, path: Path) -> Path | None:
    """Each automatic metric's paired difference (system - opponent) with its paired-bootstrap interval,
    one row per metric on its own scale (BLEU's points and ROUGE's fractions do not share an axis)."""
    table = (
        a.verdict.metric_table.dropna(subset=["delta"])
        if not a.verdict.metric_table.empty
        else a.verdict.metric_table
    )
    if table.empty:
        return None
    fig, axes = plt.subplots(
        len(table), 1, figsize=(FIGSIZE[0], _fig_height(len(table), 0.75, 0.9)), squeeze=False
    )
    for ax, r in zip(axes[:, 0], table.itertuples()):
        low = r.delta if pd.isna(r.ci_low) else r.ci_low
        high = r.delta if pd.isna(r.ci_high) else r.ci_high
        ax.plot([low, high], [0, 0], color="#4c78a8", linewidth=2.5)
        ax.plot([r.delta], [0], "o", color="#4c78a8", markersize=8)
        ax.axvline(0, color="gray", linestyle="--", linewidth=1)
        span = max(abs(low), abs(high)) * 1.15 or 1.0  # a metric equal on every item: a unit scale
        ax.set_xlim(-span, span)
        ax.set_yticks([0], [str(r.metric)])
        ax.tick_params(labelsize=10 if len(table) <= 5 else 8)  # many metrics share the slide's height
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel(
        f"{a.system} − {a.opponent} (paired bootstrap over items, 95%; each row its own scale)"
    )
    return _save(fig, path)


def agreement_chart(a: CampaignAnalysis, path: Path) -> Path | None:
    """Krippendorff's alpha of each target with its interval; None when no alpha is defined."""
    table = a.agreement.table.dropna(subset=["alpha"])
    if table.empty:
        return None
    labels = [f"{t} · {lv}" for t, lv in zip(table["target"], table["level"])]
    return _interval_chart(
        labels,
        list(table["alpha"]),
        list(table["ci_low"]),
        list(table["ci_high"]),
        0.667,
        "Krippendorff's alpha (dashed: .667, tentative reliability)",
        path,
    )


def bias_chart(a: CampaignAnalysis, path: Path) -> Path | None:
    """Each annotator's share of 'left' choices (position bias), with a dashed line at one half."""
    position = a.biases.position[a.biases.position["annotator_id"] != "all"]
    if position.empty:
        return None
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], _fig_height(len(position), 0.32, 1.2)))
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
    w = a.verdict.win
    name = lambda key: charts[key].name if charts.get(key) else None  # noqa: E731
    slides = [
        Slide(
            f"Did the fine-tune help? {data.name}",
            [
                f"{a.system} (fine-tuned) against {a.opponent}: blind pairwise human comparison, sides "
                "randomized",
                f"{a.evidence.judgments_used} judgments on {a.evidence.items_used} items by "
                f"{a.evidence.annotators_used} annotator{'' if a.evidence.annotators_used == 1 else 's'}",
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
    if a.verdict.metric_table.empty:
        slides.append(Slide("Automatic metrics", ["No automatic metrics were imported with this campaign."]))
    else:
        table = [
            "| metric | " + f"{a.opponent} | {a.system} | difference | 95% CI |",
            "|---|---|---|---|---|",
        ]
        no_interval = []
        for r in a.verdict.metric_table.itertuples():
            collapsed = pd.isna(r.ci_low) and isinstance(getattr(r, "reason", None), str)
            interval = "see below" if collapsed else f"{_num(r.ci_low)} – {_num(r.ci_high)}"
            table.append(
                f"| {_cell(r.metric)} | {_num(getattr(r, 'mean_opponent', None))} | "
                f"{_num(getattr(r, 'mean_system', None))} | {_num(r.delta)} | {interval} |"
            )
            if collapsed:
                no_interval.append(f"No interval for {r.metric}: {r.reason}")
        sentence = [
            m for m in runfolder.SENTENCE_COLUMNS.values() if m in set(a.verdict.metric_table["metric"])
        ]
        if sentence:  # not the corpus figures of the run's own table, which pool n-gram counts over the items
            corpus = [c for c, m in runfolder.SENTENCE_COLUMNS.items() if m in sentence]
            table.insert(
                0,
                f"Means over the items; {', '.join(sentence)}: the mean of each item's own score, "
                f"not the corpus {', '.join(corpus)} of the run's table",
            )
        slides.append(Slide("Automatic metrics, paired bootstrap", no_interval + table))
        if name("metrics"):  # the chart on a slide of its own: under the table it would not fit the slide
            slides.append(
                Slide(
                    "Automatic metrics: differences with their intervals",
                    [f"{a.system} − {a.opponent} per metric, each row on its own scale"],
                    name("metrics"),
                )
            )
    slides.append(
        Slide(
            "The human verdict",
            [
                f"**{a.system} win rate ({w.tie_policy}): {_pct(w.win_rate)}**, 95% CI {_pct(w.item_low)} – "
                f"{_pct(w.item_high)} (Wilson score over {w.n_items_used} items)",
                f"p = {_num(w.item_p, 3) if w.item_p is None else f'{w.item_p:.3g}'} (score test on items, "
                f"the test the interval inverts); judgments won / lost / tied: {w.wins} / {w.losses} / "
                f"{w.ties + w.both_bad}",
                interpret(a)[0].replace("**", ""),
            ],
        )
    )
    if name("verdict"):  # the chart on a slide of its own, sized to it
        slides.append(
            Slide(
                "The human verdict: intervals",
                [
                    "The win rate under each tie policy: items (Wilson, the interval to read), item "
                    "bootstrap, judgments (Wilson)"
                ],
                name("verdict"),
            )
        )
    preference = a.agreement.table.iloc[0]
    if preference["alpha"] is None or pd.isna(preference["alpha"]):
        plan = a.agreement.plan
        raw = a.agreement.raw
        lines = [agreement_sentence(preference, raw, plan, "95% CI")]
        if plan is not None and plan.items_needed and (raw is None or raw.n_pairs == 0):
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
                    f"Fleiss' kappa: {_num(a.agreement.fleiss.kappa)}",
                    *(
                        [
                            f"Raw agreement: {_pct(a.agreement.raw.share)} of {a.agreement.raw.n_pairs} "
                            "pairs of "
                            f"judgments on the same item"
                        ]
                        if a.agreement.raw is not None and a.agreement.raw.share is not None
                        else []
                    ),
                ],
                name("agreement"),
            )
        )
    length = a.biases.length
    overall = a.biases.position[a.biases.position["annotator_id"] == "all"]
    bias_lines = []
    if not overall.empty:
        row = overall.iloc[0]
        bias_lines.append(
            f"Position: 'left' chosen in {_pct(row['left_share'])} of {int(row['n'])} judgments "
            f"(p = {row['p_value']:.3g})"
        )
    bias_lines.append(
        "Length: "
        + (
            length.reason
            or f"the longer output won {_pct(length.share)} of {length.n} decisive judgments "
            f"(p = {length.p_value:.3g})"
        )
    )
    flagged = a.biases.annotators[a.biases.annotators["flagged"]]
    bias_lines.append(
        "Flagged annotators: "
        + ("; ".join(f"{r.annotator_id} ({r.flags})" for r in flagged.itertuples()) or "none")
    )
    slides.append(Slide("Bias checks", bias_lines, name("bias")))
    missing = missing_examples({pair.label: pair.item_id for pair in examples}, a.system, a.opponent)
    if (
        missing
    ):  # say which example slides are left out, and why, rather than show an item under a wrong title
        slides.append(Slide("Examples", [f"{line[0].upper()}{line[1:]}." for line in missing]))
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
    """A table line of a slide with each cell escaped (`_cell` has already turned a `|` in a cell into
    `/`)."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if all(re.fullmatch(r":?-+:?", c) for c in cells):
        return line
    return "| " + " | ".join(markdown_text(c, line_start=False) for c in cells) + " |"


# Marp's default theme: 35 px text on lines about 50 px high, about 64 characters to a line, 78.5 px padding
MARP_LINE_PX, MARP_LINE_CHARS, MARP_PADDING_PX, MARP_TITLE_PX = 50, 64, 78.5, 80


def marp_chart_height(slide: Slide) -> int:
    """The height (px) a slide's chart gets in the Marp deck: what the 720 px slide keeps under its
    padding, its title and its text lines (each bullet wrapped at MARP_LINE_CHARS), between 150 and 440 px."""
    lines = sum(max(1, math.ceil(len(line) / MARP_LINE_CHARS)) for line in slide.lines)
    free = MARP_PX[1] - 2 * MARP_PADDING_PX - MARP_TITLE_PX - MARP_LINE_PX * lines - 30
    return int(min(440, max(150, free)))


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
            body += ["", f"![h:{marp_chart_height(slide)}]({folder}/{slide.chart})"]
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
        # a slide is a column: title, text, then the chart in whatever height is left (object-fit keeps its
        # shape), so a chart is always sized to its slide and never runs off it
        f"section{{box-sizing:border-box;width:{SLIDE_PX[0]}px;height:{SLIDE_PX[1]}px;margin:24px auto;"
        "padding:36px 56px "
        "40px;background:white;overflow:hidden;position:relative;display:flex;flex-direction:column}"
        "section>*{flex:0 0 auto}h1{font-size:40px;margin:120px 0 24px}h2{font-size:30px;margin:0 0 12px}"
        "li{font-size:19px;margin:4px 0}table{border-collapse:collapse;font-size:16px;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px}"
        "section>img{flex:1 1 0;min-height:0;width:100%;object-fit:contain;margin:8px 0 0}"
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
    """`python -m annotations export --db FILE --out DIR --slides`: the export, then a deck in
    DIR/<campaign>/slides/ made from the export's own options (statistics.json), so deck and export show
    the same numbers."""
    from annotations import report, store
    from annotations.campaigns import list_campaigns
    from annotations.report import export
    from annotations.stats import analyze

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
            if not export.is_export(folder):
                continue  # not exported (no judgments)
            options = export.export_options(folder)
            data = report.load_campaign(con, campaign_id)
            a = analyze(
                data.judgments,
                data.scores,
                data.metrics,
                options,
                campaign_id,
                adjudications=data.adjudications,
            )
            files = write_slides(con, data, a, folder / "slides")
            print(f"{campaign_id}: wrote {len(files)} slide files to {folder / 'slides'}")
    finally:
        con.close()
    return status

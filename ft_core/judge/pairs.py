"""The pairs a judge compares, read from a run folder's outputs, and how two orders make one verdict.

A pair is one item of one (decoding, seed): system_a's output beside system_b's (by default base and
finetuned). Each pair is judged in both orders: `ab` shows system_a's output as A, `ba` shows system_b's as A.
The two answers make one record; an order-inconsistent pair counts as a tie in the judge's own win rate, as
MT-bench does (Zheng et al., 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena", section 3.4).

Pure functions over records, no torch: the app may read a judge's summary through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_core import runfolder
from ft_core.errors import DataError, RunFolderError
from ft_core.judge.config import JudgeConfig

ORDERS = ("ab", "ba")  # ab: system_a's output shown as A; ba: system_b's output shown as A


@dataclass(frozen=True)
class Pair:
    """One item of one decoding and seed: the source and the two systems' outputs."""

    item_id: str
    decoding: str
    seed: int
    source: str
    output_a: str  # system_a's output
    output_b: str  # system_b's output

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.decoding, self.seed, self.item_id)


@dataclass
class OrderVerdict:
    """What the judge answered for one order: its label and, where it has them, the labels' probabilities."""

    label: str | None  # "A", "B", "C" (tie), or None when the answer held no clear verdict
    p_a: float | None = None
    p_b: float | None = None
    p_tie: float | None = None
    raw: str = ""  # the answer's text (cut to 200 characters), or the label token for a local judge
    probs_from: str | None = None  # "next_token" (local), "logprobs" (endpoint), None (a parsed label only)
    label_mass: float | None = None  # local judge: the labels' share of all next-token probability
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _records(path: Path) -> list[dict[str, Any]]:
    read = runfolder.read_jsonl(path)
    if read.bad_line is not None:
        raise DataError(
            f"{path} is not valid UTF-8 JSONL (line {read.bad_line}: {read.error}); regenerate it"
        )
    return [r for r in read.records if isinstance(r, dict)]


def read_pairs(cfg: JudgeConfig) -> list[Pair]:
    """Every pair of the run's outputs the config selects, in file order; RunFolderError when there is
    none."""
    run_dir = Path(cfg.run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {run_dir} does not exist")
    files = {(o.name.system, o.name.decoding, o.name.seed): o.path for o in runfolder.list_outputs(run_dir)}
    if not files:
        raise RunFolderError(f"{run_dir} has no outputs/: run `.venv/bin/python -m ft_core generate` first")
    settings = sorted({(d, s) for (system, d, s) in files if system == cfg.system_a})
    settings = [
        (d, s)
        for d, s in settings
        if (cfg.system_b, d, s) in files
        and (not cfg.decodings or d in cfg.decodings)
        and (not cfg.seeds or s in cfg.seeds)
    ]
    if not settings:
        have = sorted({f"{d} seed {s}" for (_, d, s) in files})
        raise RunFolderError(
            f"{run_dir} has no decoding/seed with both {cfg.system_a} and {cfg.system_b} outputs"
            + (" among the selected decodings/seeds" if cfg.decodings or cfg.seeds else "")
            + f"; it has: {', '.join(have)}"
        )
    pairs: list[Pair] = []
    for decoding, seed in settings:
        a_rows = _records(files[(cfg.system_a, decoding, seed)])
        b_by_item = {str(r.get("item_id")): r for r in _records(files[(cfg.system_b, decoding, seed)])}
        taken = 0
        for row in a_rows:
            item_id = str(row.get("item_id"))
            other = b_by_item.get(item_id)
            if other is None:
                continue
            source = row.get("source") if isinstance(row.get("source"), str) else other.get("source")
            pairs.append(
                Pair(
                    item_id,
                    decoding,
                    seed,
                    source if isinstance(source, str) else "",
                    str(row.get("output") or ""),
                    str(other.get("output") or ""),
                )
            )
            taken += 1
            if cfg.limit is not None and taken >= cfg.limit:
                break
    return pairs


def order_winner(label: str | None, order: str, system_a: str, system_b: str) -> str | None:
    """The system an order's label prefers, "tie", or None when there is no label."""
    if label is None:
        return None
    if label == "C":
        return "tie"
    first, second = (system_a, system_b) if order == "ab" else (system_b, system_a)
    return first if label == "A" else second


def _b_share(verdict: OrderVerdict, order: str) -> float | None:
    """The judge's expected win of system_b in one order (a tie counts ½): from its probabilities, else its
    label."""
    b_label = "B" if order == "ab" else "A"
    if verdict.p_a is not None and verdict.p_b is not None and verdict.p_tie is not None:
        p_b = verdict.p_b if b_label == "B" else verdict.p_a
        return float(p_b + 0.5 * verdict.p_tie)
    if verdict.label is None:
        return None
    return 0.5 if verdict.label == "C" else float(verdict.label == b_label)


def pair_record(
    pair: Pair, verdicts: dict[str, OrderVerdict], cfg: JudgeConfig, **extra: Any
) -> dict[str, Any]:
    """The verdicts.jsonl record of a pair judged in both orders (fields: docs/run-folder.md)."""
    record: dict[str, Any] = {
        "item_id": pair.item_id,
        "decoding": pair.decoding,
        "seed": pair.seed,
        "system_a": cfg.system_a,
        "system_b": cfg.system_b,
    }
    winners = {}
    shares = []
    for order in ORDERS:
        v = verdicts[order]
        winners[order] = order_winner(v.label, order, cfg.system_a, cfg.system_b)
        record.update(
            {
                f"{order}_label": v.label,
                f"{order}_p_a": v.p_a,
                f"{order}_p_b": v.p_b,
                f"{order}_p_tie": v.p_tie,
                f"{order}_winner": winners[order],
                f"{order}_raw": v.raw[:200],
                f"{order}_label_mass": v.label_mass,
            }
        )
        share = _b_share(v, order)
        if share is not None:
            shares.append(share)
    labelled = all(w is not None for w in winners.values())
    consistent = labelled and winners["ab"] == winners["ba"]
    record.update(
        {
            "probs_from": next((verdicts[o].probs_from for o in ORDERS if verdicts[o].probs_from), None),
            "consistent": consistent if labelled else None,
            "verdict": (winners["ab"] if consistent else "tie") if labelled else None,
            "p_b_better": sum(shares) / len(shares) if shares else None,
            "prompt_tokens": sum(verdicts[o].prompt_tokens for o in ORDERS),
            "completion_tokens": sum(verdicts[o].completion_tokens for o in ORDERS),
        }
    )
    record.update(extra)
    return record


def summarize(records: list[dict[str, Any]], system_a: str, system_b: str) -> dict[str, Any]:
    """Counts and the judge's own win rate of system_b (tie and order-inconsistent pair = ½) over its
    records."""
    judged = [r for r in records if r.get("verdict") is not None]
    wins_a = sum(r["verdict"] == system_a for r in judged)
    wins_b = sum(r["verdict"] == system_b for r in judged)
    ties = len(judged) - wins_a - wins_b
    inconsistent = sum(r.get("consistent") is False for r in judged)
    p_b = [r["p_b_better"] for r in records if r.get("p_b_better") is not None]
    return {
        "pairs": len(records),
        "judged": len(judged),
        "unparsed": len(records) - len(judged),
        f"wins_{system_a}": wins_a,
        f"wins_{system_b}": wins_b,
        "ties": ties,
        "inconsistent": inconsistent,
        "consistency_rate": (len(judged) - inconsistent) / len(judged) if judged else None,
        f"win_rate_{system_b}": (wins_b + 0.5 * ties) / len(judged) if judged else None,
        f"mean_p_{system_b}_better": sum(p_b) / len(p_b) if p_b else None,
        "source_cut_pairs": sum(bool(r.get("source_tokens_cut")) for r in records),
        "prompt_tokens": sum(int(r.get("prompt_tokens") or 0) for r in records),
        "completion_tokens": sum(int(r.get("completion_tokens") or 0) for r in records),
    }

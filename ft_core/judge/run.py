"""`python -m ft_core judge --config FILE.yaml`: judge a run's pairs in both orders into `judges/<name>/`.

The story: read the pairs (`pairs.read_pairs`), see which the judge has already done (resume), build the
judge, cut the sources to `max_source_tokens` and fill the prompts, print an estimate of tokens (and cost),
judge, and append each pair's record as soon as both its orders are in; at the end, `summary.json`. Nothing is
written before the first pair is judged, so a job that fails at the start (a missing key, an unreachable
endpoint, a bad model) leaves the run folder as it was. Layout: `ft_core.runfolder`, docs/run-folder.md.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ft_core import runfolder
from ft_core.config import config_to_dict, parse_cli
from ft_core.data import truncate_source
from ft_core.errors import RunFolderError, warnings_as_lines
from ft_core.judge.backend import Judge, JudgeRequest
from ft_core.judge.config import JudgeConfig, fill_template
from ft_core.judge.pairs import ORDERS, OrderVerdict, Pair, pair_record, read_pairs, summarize

# Fields that change what a verdict means: a resumed judge must have the same, or start over.
VERDICT_FIELDS = (
    "backend", "model", "base_url", "model_name", "question", "prompt_template", "max_source_tokens",
    "system_a", "system_b", "max_tokens",
)  # fmt: skip


@dataclass
class Progress:
    """What a judging job knows as it goes: the pairs, the records so far, the file it appends to."""

    cfg: JudgeConfig
    pairs: list[Pair]
    done: list[dict[str, Any]]  # records already in verdicts.jsonl
    cut: dict[int, int] = field(default_factory=dict)  # pair index -> source tokens cut
    answers: dict[int, dict[str, OrderVerdict]] = field(default_factory=dict)
    sink: IO[str] | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def folder(self) -> Path:
        return runfolder.judge_dir(self.cfg.run_dir, self.cfg.name)


# --------------------------------------------------------------------------------------------- resume
def resume_state(cfg: JudgeConfig) -> list[dict[str, Any]]:
    """The records the judge already has (none with overwrite); RunFolderError when they came from another
    judge config."""
    folder = runfolder.judge_dir(cfg.run_dir, cfg.name)
    if cfg.overwrite or not folder.is_dir():
        return []
    earlier = runfolder.read_judge_config(cfg.run_dir, cfg.name)
    changed = [f for f in VERDICT_FIELDS if f in earlier and earlier[f] != getattr(cfg, f)]
    if changed:
        raise RunFolderError(
            f"{folder} was judged with another {', '.join(changed)}; set overwrite=true to judge again, "
            "or give this judge another name"
        )
    return [r for r in runfolder.read_verdict_records(cfg.run_dir, cfg.name).records if isinstance(r, dict)]


def open_sink(progress: Progress) -> IO[str]:
    """The verdicts file, opened for appending at the first judged pair: the folder (started over with
    overwrite), judge_config.json, and a last line cut by a crash dropped."""
    cfg, folder = progress.cfg, progress.folder
    if cfg.overwrite and not progress.done:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    runfolder.write_json_atomic(folder / runfolder.JUDGE_CONFIG, config_to_dict(cfg))
    (folder / runfolder.JUDGE_SUMMARY).unlink(missing_ok=True)  # a summary says the judge is complete
    path = runfolder.verdicts_path(cfg.run_dir, cfg.name)
    if path.is_file() and runfolder.read_jsonl(path).bad_line is not None:
        runfolder.write_jsonl_atomic(path, progress.done)
    return path.open("a", encoding="utf-8")


# --------------------------------------------------------------------------------------------- prompts
def build_requests(progress: Progress, judge: Judge, todo: list[int]) -> list[JudgeRequest]:
    """Both orders of every pair still to judge, its source cut to the judge's budget (and the cut
    counted)."""
    cfg = progress.cfg
    requests = []
    for index in todo:
        pair = progress.pairs[index]
        source, progress.cut[index] = truncate_source(judge.tokenizer, pair.source, cfg.max_source_tokens)
        first = {"ab": pair.output_a, "ba": pair.output_b}
        second = {"ab": pair.output_b, "ba": pair.output_a}
        for order in ORDERS:
            prompt = fill_template(cfg.prompt_template, cfg.question, source, first[order], second[order])
            requests.append(JudgeRequest(index, order, prompt))
    return requests


def estimate(cfg: JudgeConfig, judge: Judge, requests: list[JudgeRequest], cut_pairs: int) -> str:
    """One line: requests, prompt and answer tokens (and cost when prices are set), cut sources."""
    prompt_tokens = sum(judge.prompt_tokens(r.prompt) for r in requests)
    answer_tokens = judge.completion_tokens * len(requests)
    line = (
        f"judging {len(requests) // 2:,} pairs in both orders ({len(requests):,} requests) with {cfg.name}: "
        f"about {prompt_tokens:,} prompt tokens + at most {answer_tokens:,} answer tokens"
    )
    if cfg.backend == "endpoint":
        line += " (counted with the embedded tokenizer)"
    price = cfg.usd_per_million_prompt_tokens, cfg.usd_per_million_completion_tokens
    if any(price):
        line += f", about ${(prompt_tokens * price[0] + answer_tokens * price[1]) / 1e6:,.4f}"
    return line + f"; {cut_pairs:,} sources cut to {cfg.max_source_tokens:,} tokens"


# --------------------------------------------------------------------------------------------- the job
def make_judge(cfg: JudgeConfig) -> Judge:
    if cfg.backend == "endpoint":
        from ft_core.judge.endpoint import EndpointJudge

        return EndpointJudge(cfg)
    from ft_core.judge.local import LocalJudge

    return LocalJudge(cfg)


def run_judge(cfg: JudgeConfig, judge: Judge | None = None) -> dict[str, Any]:
    """Judge the run's pairs not judged yet, both orders each; returns (and writes) the judge's summary."""
    pairs = read_pairs(cfg)
    progress = Progress(cfg, pairs, resume_state(cfg))
    done_keys = {(r.get("decoding"), r.get("seed"), str(r.get("item_id"))) for r in progress.done}
    todo = [i for i, p in enumerate(pairs) if p.key not in done_keys]
    if progress.done:
        print(
            f"resuming {cfg.name}: {len(pairs) - len(todo):,} of {len(pairs):,} pairs judged already",
            flush=True,
        )
    if todo:
        judge = judge if judge is not None else make_judge(cfg)
        requests = build_requests(progress, judge, todo)
        print(estimate(cfg, judge, requests, sum(bool(progress.cut[i]) for i in todo)), flush=True)
        try:
            judge.judge(requests, lambda request, verdict: on_verdict(progress, request, verdict))
        finally:
            if progress.sink is not None:
                progress.sink.close()
    return finish(progress)


def on_verdict(progress: Progress, request: JudgeRequest, verdict: OrderVerdict) -> None:
    """Keep one order's answer; once both orders of a pair are in, append its record (durably)."""
    answers = progress.answers.setdefault(request.pair_index, {})
    answers[request.order] = verdict
    if len(answers) < len(ORDERS):
        return
    pair = progress.pairs[request.pair_index]
    record = pair_record(
        pair, answers, progress.cfg, source_tokens_cut=progress.cut[request.pair_index], time=time.time()
    )
    if progress.sink is None:
        progress.sink = open_sink(progress)
    runfolder.append_jsonl(progress.sink, [record])
    progress.done.append(record)
    del progress.answers[request.pair_index]
    every = max(1, min(50, len(progress.pairs) // 10))  # about ten lines for a small run (the app's progress)
    if len(progress.done) % every == 0 or len(progress.done) == len(progress.pairs):
        print(f"  {len(progress.done):,}/{len(progress.pairs):,} pairs judged", flush=True)


def finish(progress: Progress) -> dict[str, Any]:
    """summary.json over every record of the judge (this run's and earlier ones'), printed in one line."""
    cfg = progress.cfg
    summary = {
        "judge": cfg.name,
        "backend": cfg.backend,
        "model": cfg.model_name if cfg.backend == "endpoint" else cfg.model,
        "system_a": cfg.system_a,
        "system_b": cfg.system_b,
        **summarize(progress.done, cfg.system_a, cfg.system_b),
        "seconds": round(time.perf_counter() - progress.started, 3),
        "finished_at": time.time(),
    }
    if progress.folder.is_dir():
        runfolder.write_json_atomic(progress.folder / runfolder.JUDGE_SUMMARY, summary)
    rate = summary[f"win_rate_{cfg.system_b}"]
    print(
        f"{cfg.name}: {summary['judged']:,} pairs judged, win rate of {cfg.system_b} "
        f"{'n/a' if rate is None else f'{rate:.3f}'} (ties and order-inconsistent pairs count 1/2), "
        f"{summary['inconsistent']:,} order-inconsistent, {summary['unparsed']:,} unparsed, "
        f"{summary['source_cut_pairs']:,} sources cut",
        flush=True,
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    cfg = parse_cli(JudgeConfig, argv, "judge")
    with warnings_as_lines():
        run_judge(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())

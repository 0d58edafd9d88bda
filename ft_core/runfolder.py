"""The run folder: the one module that knows its layout. Everything else reads and writes run folders through
it.

    runs/<run_id>/
      config.json            the TrainConfig of the run                         (train, once, atomic)
      truncation.json        how many sources and targets the length limits cut (train, once, atomic)
      status.json            state, step, losses, pid, error, ...              (train, merged + atomic each
      time) train_log.jsonl        one row per logged step or validation              (train, appended)
      adapter/               the best LoRA adapter so far (peft folder)         (train, swapped in whole)
      checkpoint/            adapter/, optimizer.pt, scheduler.pt, trainer_state.json, rng_state_<k>.pt,
                             scaler.pt (fp16): what a resume needs
      cancel_requested.json  the app asks for a cancel before it sends SIGTERM (the app, once)
      errors/rank<k>.json    one line: why process k of the run died            (train, the failing process)
      heartbeat.json         {"time", "pid"}: the training run is alive          (train, process 0, each 30 s)
      outputs/<system>__<decoding>__seed<seed>.jsonl   one record per item      (generate, atomic when
      complete) outputs/.<name>.partial                          finished batches so far  (generate, appended
      + fsync) outputs/generate_config.json                     the GenerateConfig       (generate)
      scores/per_example.parquet, comparison.json, comparison.csv, corpus.csv, signatures.json,
      score_config.json
                                                                                (score, each atomic)
      judges/<name>/verdicts.jsonl     one record per pair, both orders          (judge, appended + fsync per
      pair) judges/<name>/judge_config.json  the JudgeConfig (a key's variable name, never the key)   (judge,
      atomic) judges/<name>/summary.json       counts, the judge's win rate, cut sources, tokens, time
      (judge, atomic) job.log                the app's log of the job that wrote the folder     (the app,
      appended at the end)
      dpo_config.json        a preference-tuned run (ft_core.dpo): its DPOTrainConfig; config.json is then
                             the SFT run's TrainConfig (base model, prompt format) its adapter applies with
      preference_source.json which export and campaign it learnt from, the pairs, the label smoothing  (dpo)
      checkpoint/checkpoint-<step>/  a preference-tuned run's checkpoints (TRL's Trainer; what --resume reads)
    runs/<sweep>/sweep.json  and one run folder per point, lr{lr}_r{r}/ or max_target_length441/ (atomic)

docs/run-folder.md describes every file and field. A folder is written by one job process while the app reads
it and may delete it, so the readers here (`read_status`, `read_config`, `read_log`, ...) return an empty
value instead of raising when a file is missing, half-written or the folder is gone; the few strict readers
that a job needs (`load_train_config`, `read_trainer_state`) raise `RunFolderError`. Every whole-file write is
atomic (a staging file in the same folder, then `os.replace`), so a reader never sees half a JSON file. No
torch here: the app and the job queue import this module.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

import pandas as pd

from ft_core.config import TrainConfig, config_from_dict, config_to_dict
from ft_core.errors import ConfigError, RunFolderError

CONFIG = "config.json"
STATUS = "status.json"
TRAIN_LOG = "train_log.jsonl"
TRUNCATION = "truncation.json"
ADAPTER = "adapter"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
CHECKPOINT = "checkpoint"
TRAINER_STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
SCHEDULER = "scheduler.pt"
OUTPUTS = "outputs"
GENERATE_CONFIG = "generate_config.json"
SCORES = "scores"
PER_EXAMPLE = "per_example.parquet"
COMPARISON_JSON = "comparison.json"
COMPARISON_CSV = "comparison.csv"
CORPUS_CSV = "corpus.csv"
SIGNATURES = "signatures.json"
SCORE_CONFIG = "score_config.json"
SWEEP = "sweep.json"
JUDGES = "judges"
VERDICTS = "verdicts.jsonl"
JUDGE_CONFIG = "judge_config.json"
JUDGE_SUMMARY = "summary.json"
JOB_LOG = "job.log"
SCALER = "scaler.pt"
CANCEL_REQUEST = "cancel_requested.json"
ERRORS = "errors"
HEARTBEAT = "heartbeat.json"
HEARTBEAT_EVERY_S = 30.0
# No heartbeat for this long and status.json still says running: the run is dead (torchrun's SIGTERM-to-
# SIGKILL grace is 30 s; this leaves room for a slow shared disk).
STALE_AFTER_S = 180.0
DPO_CONFIG = "dpo_config.json"
PREFERENCE_SOURCE = "preference_source.json"
RUN_FILES = (CONFIG, STATUS, TRAIN_LOG)  # any one of them makes a folder a training run
STATES = ("running", "finished", "failed", "cancelled")

# A corpus figure and the mean of per-item scores are different statistics, so they never share a name.
# `bleu`, `sacrebleu`, `chrf` and `chrfpp` are corpus figures: n-gram counts pooled over the items, then one
# score (comparison.json, corpus.csv, training's eval_bleu). Per item the same formulas give sentence scores,
# named `sentence_bleu`, ... wherever they are kept per item (per_example.parquet, a campaign's metrics) and
# wherever their mean over items is shown (the comparison's sentence_* rows, the results page, the export, the
# slides). Run folders scored before this naming kept the per-item scores under the corpus names:
# read_per_example renames.
SENTENCE_COLUMNS = {
    "bleu": "sentence_bleu",
    "sacrebleu": "sentence_sacrebleu",
    "chrf": "sentence_chrf",
    "chrfpp": "sentence_chrfpp",
}
# What each of those names means: the help of every table that shows them.
METRIC_DEFINITIONS = {
    "bleu": "corpus BLEU on the 0-1 scale (Hugging Face evaluate's: no smoothing, shortest reference "
    "length): n-gram matches pooled over all items, then one score",
    "sacrebleu": "corpus sacreBLEU on the 0-100 scale (13a tokens, closest reference length): n-gram matches "
    "pooled over all items, then one score",
    "chrf": "corpus chrF on the 0-100 scale (sacreBLEU): character n-gram counts pooled over all items",
    "chrfpp": "corpus chrF++ on the 0-100 scale (sacreBLEU): character and word n-gram counts pooled over "
    "all items",
    "sentence_bleu": "each item's own BLEU on the 0-1 scale, unsmoothed (0 when an output shares no 4-gram "
    "with its references); a table of systems shows its mean over items, which is not corpus BLEU",
    "sentence_sacrebleu": "each item's sentence sacreBLEU on the 0-100 scale (exponential smoothing, "
    "effective order); a table of systems shows its mean over items, which is not corpus sacreBLEU",
    "sentence_chrf": "each item's chrF on the 0-100 scale; a table of systems shows its mean over items, "
    "which is not corpus chrF",
    "sentence_chrfpp": "each item's chrF++ on the 0-100 scale; a table of systems shows its mean over items, "
    "which is not corpus chrF++",
}


def per_item_metric(name: str) -> str:
    """The name a per-item score goes by: `sentence_bleu` for a per-item `bleu` (`bleu` is a corpus figure's
    name), any other name as it is."""
    return SENTENCE_COLUMNS.get(name, name)


def metric_help(names: Iterable[str]) -> str:
    """One line defining those of `names` that are easily confused (corpus figures, means of sentence scores);
    empty when none is among them."""
    shown = [n for n in METRIC_DEFINITIONS if n in set(names)]
    return "; ".join(f"`{n}`: {METRIC_DEFINITIONS[n]}" for n in shown)


_OUTPUT_NAME = re.compile(
    r"^(?P<system>(?:(?!__).)+)__(?P<decoding>(?:(?!__).)+)__seed(?P<seed>-?\d+)\.jsonl$"
)
_SWEEP_MEMBER = re.compile(r"^lr(?P<lr>[-+.\deE]+)_r(?P<r>\d+)$")


# --------------------------------------------------------------------------------------------- paths
def config_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CONFIG


def status_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / STATUS


def train_log_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / TRAIN_LOG


def truncation_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / TRUNCATION


def adapter_dir(run_dir: str | Path) -> Path:
    """The best adapter so far; generation's `finetuned` system loads it."""
    return Path(run_dir) / ADAPTER


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT


def dpo_config_path(run_dir: str | Path) -> Path:
    """A preference-tuned run's DPOTrainConfig (its presence marks the run as one)."""
    return Path(run_dir) / DPO_CONFIG


def preference_source_path(run_dir: str | Path) -> Path:
    """Which preferences export (and so which campaign) a preference-tuned run learnt from."""
    return Path(run_dir) / PREFERENCE_SOURCE


def is_dpo_run(run_dir: str | Path) -> bool:
    return dpo_config_path(run_dir).is_file()


def read_preference_source(run_dir: str | Path) -> dict[str, Any]:
    """preference_source.json; {} when missing."""
    data = _read_json(preference_source_path(run_dir))
    return data if isinstance(data, dict) else {}


def read_dpo_config(run_dir: str | Path) -> dict[str, Any]:
    """dpo_config.json (the DPOTrainConfig of a preference-tuned run) as written; {} when missing."""
    data = _read_json(dpo_config_path(run_dir))
    return data if isinstance(data, dict) else {}


def last_dpo_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest TRL checkpoint of a preference-tuned run (checkpoint/checkpoint-<step>), or None."""
    found = []
    for path in checkpoint_dir(run_dir).glob("checkpoint-*"):
        step = path.name.removeprefix("checkpoint-")
        if step.isdigit() and (path / TRAINER_STATE).is_file():
            found.append((int(step), path))
    return max(found)[1] if found else None


def outputs_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / OUTPUTS


def scores_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / SCORES


def job_log_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / JOB_LOG


def sweep_path(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / SWEEP


# --------------------------------------------------------------------------------------------- atomic writes
def _staging(path: Path) -> Path:
    """A unique hidden name beside `path` (several writers, e.g. a job and the app, never share one)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a whole text file so that a reader sees the old file or the new one, never half of it."""
    path = Path(path)
    staging = _staging(path)
    try:
        with staging.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def write_json_atomic(path: str | Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, default=str) + "\n")


def write_config(path: str | Path, cfg: Any) -> None:
    """A job config as JSON (config.json, generate_config.json, score_config.json), atomically."""
    write_json_atomic(path, config_to_dict(cfg))


def write_jsonl_atomic(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """One JSON record per line (UTF-8, not ASCII-escaped), atomically."""
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def append_jsonl(sink: IO[str], records: Iterable[dict[str, Any]]) -> None:
    """Append records to an open JSONL file and make them durable (a crash keeps every finished line)."""
    sink.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    sink.flush()
    os.fsync(sink.fileno())


def _write_frame_atomic(path: Path, frame: pd.DataFrame, kind: str) -> None:
    staging = _staging(path)
    try:
        if kind == "parquet":
            frame.to_parquet(staging, index=False)
        else:
            write_csv(frame, staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def staging_path(final: Path) -> Path:
    """Where a folder that is swapped in whole is staged (`<name>.tmp` beside it): every process of a run
    computes the same name, so each can add its own files before the swap."""
    return final.with_name(final.name + ".tmp")


def staging_dir(final: Path) -> Path:
    """`staging_path(final)`, emptied (absent), for a folder that is swapped in whole."""
    staging = staging_path(final)
    shutil.rmtree(staging, ignore_errors=True)
    return staging


def swap_in(staging: Path, final: Path) -> None:
    """Replace the folder `final` by `staging` (two renames, so a crash leaves the old folder or the new
    one)."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------------- CSV for
# spreadsheets A text cell that starts with one of these is read as a formula by Excel, LibreOffice and Google
# Sheets (OWASP, "CSV Injection"): `=HYPERLINK(...)`, `=cmd|' /C calc'!A0`, `+SUM(1)`, `@SUM(1)`, `-2+3`, or
# the same behind a tab or a carriage return. Such a cell gets a leading `'`, which the spreadsheet shows as
# text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A cell that already starts with the quote gets a second one, so `read_csv` gives back the exact text.
_TEXT_QUOTE = "'"


def spreadsheet_text(value: Any) -> Any:
    """`value` as a CSV cell a spreadsheet will not run: text starting with = + - @ tab, CR or ' gets a
    leading `'`; anything that is not text (numbers, dates, missing values) is returned unchanged."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, _TEXT_QUOTE)):
        return _TEXT_QUOTE + value
    return value


def plain_text(value: Any) -> Any:
    """The inverse of `spreadsheet_text`, for a cell read back from a CSV written by `write_csv`."""
    if (
        isinstance(value, str)
        and value.startswith(_TEXT_QUOTE)
        and value[1:2]
        and value[1:].startswith((*FORMULA_STARTS, _TEXT_QUOTE))
    ):
        return value[1:]
    return value


def _map_text_cells(frame: pd.DataFrame, cell) -> pd.DataFrame:
    """`frame` with `cell` applied to every text cell and header; numeric, boolean and date columns keep their
    values and dtypes (a -0.5 in a numeric column stays the number -0.5)."""
    out = frame.copy()
    for i in range(out.shape[1]):
        values = out.iloc[:, i]
        if (
            pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_bool_dtype(values)
            or pd.api.types.is_datetime64_any_dtype(values)
        ):
            continue
        mapped = values.astype(object).map(cell)
        out.isetitem(i, mapped.astype(values.dtype) if isinstance(values.dtype, pd.StringDtype) else mapped)
    out.columns = [cell(c) for c in out.columns]
    return out


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell and header passed through `spreadsheet_text`."""
    return _map_text_cells(frame, spreadsheet_text)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """The one writer of every CSV the app and the CLIs hand out (exports, scores): no index, no cell a
    spreadsheet would run as a formula (`spreadsheet_text`), and every text cell in double quotes, so a
    carriage return, a newline or a `;` inside a comment never starts a new row or cell in a spreadsheet
    that splits on them. Numbers stay bare. Parquet and JSONL files keep the exact text."""
    spreadsheet_safe(frame).to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)


def read_csv(path: str | Path, **options: Any) -> pd.DataFrame:
    """A CSV written by `write_csv`, with the text cells as they were before the formula guard."""
    return _map_text_cells(pd.read_csv(path, **options), plain_text)


# --------------------------------------------------------------------------------------------- tolerant
# reading
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_NUMBER = (int, float)


@dataclass
class RunStatus:
    """status.json: where a training run stands. The training job writes it (`write_status`, merged and
    atomic each time); the app, the job queue, sweeps and generation read it (`read_status`). Every field
    may be None: a run that has not written it yet, or an older run that never did. `extra` keeps the keys
    this version does not know (an older or newer writer), so a rewrite never drops them."""

    state: str | None = None  # running | finished | failed | cancelled
    step: int | None = None  # optimizer steps done
    total_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None  # the last logged training loss
    best_eval_loss: float | None = None
    best_step: int | None = None  # the step of best_eval_loss (its adapter is adapter/)
    final_train_loss: float | None = None
    stopped_early: bool | None = None
    sanity_overfit_passed: bool | None = None  # set when the run was a sanity overfit (ft_core.sanity)
    error: str | None = None  # one line: why the run failed or was cancelled
    traceback: str | None = None  # the end of the failing process's traceback
    device: str | None = None
    num_processes: int | None = None
    mixed_precision: str | None = None  # accelerate's value: bf16, fp16 or no
    pid: int | None = None  # the process that wrote it last
    started_at: float | None = None  # Unix times
    updated_at: float | None = None
    finished_at: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> RunStatus:
        """A status from status.json's mapping, tolerantly: a missing key is None, a value of the wrong type
        is None, an unknown key goes to `extra`; anything but a mapping is an empty status."""
        if not isinstance(data, dict):
            return cls()
        known = {f.name: _STATUS_TYPES[f.name] for f in dataclasses.fields(cls) if f.name != "extra"}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                values.setdefault("extra", {})[key] = value
            elif value is not None and _status_value_fits(value, known[key]):
                values[key] = int(value) if known[key] is int else value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The status as status.json's mapping (unknown keys kept from `extra`)."""
        out = {**self.extra, **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}
        del out["extra"]
        return out

    @property
    def running(self) -> bool:
        return self.state == "running"


# the JSON type each status field must have to be read (bool is not a number here, and a float step is cut)
_STATUS_TYPES: dict[str, Any] = {
    "state": str, "step": int, "total_steps": int, "epoch": _NUMBER, "loss": _NUMBER,
    "best_eval_loss": _NUMBER,
    "best_step": int, "final_train_loss": _NUMBER, "stopped_early": bool, "sanity_overfit_passed": bool,
    "error": str, "traceback": str, "device": str, "num_processes": int, "mixed_precision": str, "pid": int,
    "started_at": _NUMBER, "updated_at": _NUMBER, "finished_at": _NUMBER,
}  # fmt: skip


def _status_value_fits(value: Any, kind: Any) -> bool:
    if kind is bool or kind is str:
        return isinstance(value, kind)
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, _NUMBER) and float(value).is_integer()
    return isinstance(value, kind)


@dataclass
class CheckReport:
    """What `python -m ft_core train --check` found without training: the sizes of the data and how much of it
    the length limits cut (`ft_core.data.truncation_report`). The check prints it as its last stdout line, one
    JSON object (`to_json`); the app reads that line back typed (`from_json`), tolerantly (a key this version
    does not know is ignored, a missing one is None). It has no file in the run folder: the folder is not made
    until the run starts."""

    train_examples: int | None = None
    validation_examples: int | None = None
    model_path: str | None = None  # where the base model was found
    examples: int | None = None  # the training examples the truncation figures count
    sources_truncated: int | None = None
    sources_truncated_share: float | None = None
    source_tokens_lost_mean: float | None = None
    source_tokens_lost_max: int | None = None
    targets_truncated: int | None = None
    targets_truncated_share: float | None = None
    target_tokens_lost_mean: float | None = None
    target_tokens_lost_max: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The report as one line of JSON."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckReport:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_output(cls, stdout: str) -> CheckReport | None:
        """The report a check printed (its last line that is a JSON object), or None when it printed none."""
        for line in reversed(stdout.splitlines()):
            try:
                data = json.loads(line) if line.startswith("{") else None
            except ValueError:
                continue
            if isinstance(data, dict):
                return cls.from_dict(data)
        return None


def read_status(run_dir: str | Path | None) -> RunStatus:
    """status.json as a `RunStatus`; an empty one (every field None) when missing, half-written or the folder
    is gone."""
    if not run_dir:
        return RunStatus()
    return RunStatus.from_dict(_read_json(status_path(run_dir)))


def read_config(run_dir: str | Path | None) -> TrainConfig | None:
    """config.json as the TrainConfig the run used; None when there is none (a folder of outputs made
    elsewhere, a folder being deleted). Tolerant, like the other readers: fields this version does not know
    are ignored, and a value this version refuses (an old run's since-renamed choice) falls back to its
    default."""
    if not run_dir:
        return None
    data = _read_json(config_path(run_dir))
    if not isinstance(data, dict):
        return None
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in data.items() if k in known}
    try:
        return config_from_dict(TrainConfig, values)
    except (ConfigError, TypeError, ValueError):
        pass
    kept: dict[str, Any] = {}
    for key, value in values.items():  # keep each value that reads on its own; the rest take their default
        try:
            config_from_dict(TrainConfig, {**kept, key: value})
        except (ConfigError, TypeError, ValueError):
            continue
        kept[key] = value
    try:
        return config_from_dict(TrainConfig, kept)
    except (ConfigError, TypeError, ValueError):
        return None


def read_generate_config(outputs_folder: str | Path) -> dict[str, Any]:
    """outputs/generate_config.json (the GenerateConfig that wrote the outputs) as a dict; {} when missing."""
    data = _read_json(Path(outputs_folder) / GENERATE_CONFIG)
    return data if isinstance(data, dict) else {}


def read_log_rows(run_dir: str | Path | None) -> list[dict[str, Any]]:
    """train_log.jsonl's rows; a line being written (or cut by a crash) is skipped."""
    if not run_dir:
        return []
    try:
        text = train_log_path(run_dir).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_log(run_dir: str | Path | None) -> pd.DataFrame:
    """train_log.jsonl as a frame (one row per logged step or validation), with at least the columns step,
    loss, eval_loss, tokens_per_s and lr; empty when there is no log."""
    frame = pd.DataFrame(read_log_rows(run_dir))
    for column in ("step", "loss", "eval_loss", "tokens_per_s", "lr"):
        if column not in frame:
            frame[column] = pd.Series(dtype=float)
    return frame


def read_truncation(run_dir: str | Path) -> dict[str, Any]:
    """truncation.json (how many sources and targets the length limits cut); {} when missing."""
    data = _read_json(truncation_path(run_dir))
    return data if isinstance(data, dict) else {}


def last_train_loss(run_dir: str | Path) -> float | None:
    """The training loss of the last logged step."""
    losses = [row["loss"] for row in read_log_rows(run_dir) if row.get("loss") is not None]
    return losses[-1] if losses else None


def best_eval_loss(run_dir: str | Path) -> float | None:
    """The best validation loss: status.json's, else the lowest in the log (a run that died before its
    end)."""
    status = read_status(run_dir)
    if status.best_eval_loss is not None:
        return float(status.best_eval_loss)
    losses = [row["eval_loss"] for row in read_log_rows(run_dir) if row.get("eval_loss") is not None]
    return min(losses) if losses else None


def has_adapter(run_dir: str | Path) -> bool:
    return (adapter_dir(run_dir) / ADAPTER_CONFIG).is_file()


def has_checkpoint(run_dir: str | Path) -> bool:
    return (checkpoint_dir(run_dir) / TRAINER_STATE).is_file()


def has_scores(run_dir: str | Path) -> bool:
    return (scores_dir(run_dir) / COMPARISON_JSON).is_file()


# --------------------------------------------------------------------------------------------- training
def run_dir_problem(run_dir: str | Path, resume: bool) -> str | None:
    """Why training cannot start in `run_dir`, or None: a new run needs an empty or absent folder, a resume
    needs the checkpoint."""
    run_dir = Path(run_dir)
    if resume:
        if not has_checkpoint(run_dir):
            return f"cannot resume: {run_dir} has no checkpoint/ (was it started with this config?)"
        return None
    try:
        taken = run_dir.is_dir() and any(run_dir.iterdir())
    except OSError:
        taken = False
    if taken or (run_dir.exists() and not run_dir.is_dir()):
        return f"run folder {run_dir} exists already; choose another run_dir or set resume=true"
    return None


def dpo_run_dir_problem(run_dir: str | Path, resume: bool) -> str | None:
    """Why preference tuning (`ft_core dpo`) cannot start in `run_dir`, or None: a new run needs an empty or
    absent folder, a resume a TRL checkpoint (checkpoint/checkpoint-<step>/)."""
    if resume:
        if last_dpo_checkpoint(run_dir) is None:
            return f"cannot resume: {run_dir} has no checkpoint/checkpoint-<step>/ (was it started with dpo?)"
        return None
    return run_dir_problem(run_dir, resume=False)


def create(run_dir: str | Path, cfg: TrainConfig, truncation: dict[str, Any]) -> None:
    """Start a run folder: config.json and truncation.json (from here on, status.json says where it
    stands)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(config_path(run_dir), cfg)
    write_json_atomic(truncation_path(run_dir), truncation)


def write_status(run_dir: str | Path, **fields: Any) -> RunStatus:
    """Merge `fields` (names of `RunStatus` fields; another name is a TypeError) into status.json, stamped
    with `updated_at` and the writer's `pid`; returns the status written."""
    status = dataclasses.replace(read_status(run_dir), **fields, updated_at=time.time(), pid=os.getpid())
    write_json_atomic(status_path(run_dir), status.to_dict())
    return status


def mark_ended(run_dir: str | Path, state: str, error: str | None) -> bool:
    """Say in status.json that a run ended (a job killed hard cannot say it itself), if it still says running.
    `state` and `error` are what the caller saw ("cancelled" after its own cancel, "failed" otherwise); the
    folder's own evidence wins as in `ending`: a process's error file makes it "failed" with that error unless
    a cancel was requested. Returns whether it was written (False: not running, folder gone, or disk full)."""
    status = read_status(run_dir)
    if not status.running:
        return False
    outcome = ending(run_dir, interrupted=state == "cancelled", error=error)
    status = dataclasses.replace(status, state=outcome.state, error=outcome.error, finished_at=time.time())
    try:
        write_json_atomic(status_path(run_dir), status.to_dict())
    except OSError:
        return False
    return True


def heartbeat_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / HEARTBEAT


def write_heartbeat(run_dir: str | Path) -> None:
    """Say that the training run is alive (process 0, every `HEARTBEAT_EVERY_S`, from a thread of its own)."""
    write_json_atomic(heartbeat_path(run_dir), {"time": time.time(), "pid": os.getpid()})


def last_heartbeat(run_dir: str | Path) -> float | None:
    """When the run last said it was alive (None: never, e.g. a run of an older version)."""
    beat = _read_json(heartbeat_path(run_dir))
    value = beat.get("time") if isinstance(beat, dict) else None
    return float(value) if isinstance(value, _NUMBER) and not isinstance(value, bool) else None


def observed_status(run_dir: str | Path | None, now: float | None = None) -> RunStatus:
    """status.json as a reader should believe it. A run that says "running" but has sent no heartbeat for
    `STALE_AFTER_S` is dead without having said so: under NCCL, a process blocked in a collective after
    another process's out-of-memory error cannot run its SIGTERM handler, and torchrun's SIGKILL ends it
    there. It reads as `ending` decides (failed with the first failing process's error; cancelled when a
    cancel was requested). Nothing is written: `mark_ended` does that for the app's own jobs."""
    status = read_status(run_dir)
    if not status.running or not run_dir:
        return status
    beat = last_heartbeat(run_dir)
    now = time.time() if now is None else now
    if beat is None or now - beat < STALE_AFTER_S:
        return status
    silent = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(beat))
    outcome = ending(
        run_dir,
        interrupted=False,
        error=f"the run stopped without recording its end: no heartbeat since {silent} (a process killed, "
        "or blocked in a collective until killed)",
    )
    return dataclasses.replace(status, state=outcome.state, error=outcome.error)


# --------------------------------------------------------------------------------------------- how a run
# ended A cancel and a crash both reach a multi-process run as SIGTERM: `torchrun` stops every other process
# with it when one of them dies (an out-of-memory error on process 1, say), and the app's Cancel sends it to
# the whole process group. The run folder tells them apart: the app writes cancel_requested.json *before* it
# signals, and a process that dies of an exception writes errors/rank<k>.json *before* it exits (so before
# torchrun signals the others). `ending` turns that evidence into the state status.json records.
def cancel_request_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CANCEL_REQUEST


def errors_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / ERRORS


def request_cancel(run_dir: str | Path, by: str = "app") -> bool:
    """Mark the run as cancelled on purpose; call it before sending SIGTERM. Returns False (and writes
    nothing) when the run folder does not exist yet: a run that has not created its folder has nothing to
    record."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return False
    write_json_atomic(cancel_request_path(run_dir), {"requested_at": time.time(), "by": by})
    return True


def cancel_requested(run_dir: str | Path) -> bool:
    return cancel_request_path(run_dir).is_file()


def write_process_error(run_dir: str | Path, rank: int, error: str, kind: str) -> None:
    """errors/rank<k>.json: why process `rank` died, one line (`kind`: the exception's type name, or
    "oom")."""
    folder = errors_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        folder / f"rank{int(rank)}.json",
        {"rank": int(rank), "error": error, "kind": kind, "time": time.time(), "pid": os.getpid()},
    )


def process_errors(run_dir: str | Path) -> list[dict[str, Any]]:
    """The processes' error files, first failure first ([] when none)."""
    try:
        paths = sorted(errors_dir(run_dir).glob("rank*.json"))
    except OSError:
        return []
    found = [e for e in (_read_json(p) for p in paths) if isinstance(e, dict) and "error" in e]
    return sorted(found, key=lambda e: (e.get("time", 0.0), e.get("rank", 0)))


def clear_run_signals(run_dir: str | Path) -> None:
    """Forget an earlier attempt's cancel request and process errors (a resumed run starts clean)."""
    cancel_request_path(run_dir).unlink(missing_ok=True)
    shutil.rmtree(errors_dir(run_dir), ignore_errors=True)


class Ending(NamedTuple):
    """The state and error status.json records for a run that did not finish."""

    state: str  # "cancelled" or "failed"
    error: str | None


def ending(run_dir: str | Path, interrupted: bool, error: str | None) -> Ending:
    """How a run that did not finish ended. A requested cancel is "cancelled", whatever else happened;
    otherwise the first process that died of an error is the cause ("failed", with its error, e.g. an
    out-of-memory hint), even when this process only saw the SIGTERM or the broken connection that
    followed; otherwise an interrupt (Ctrl-C, a plain SIGTERM) is "cancelled" and anything else "failed"
    with `error`."""
    if cancel_requested(run_dir):
        return Ending("cancelled", error)
    first = next(iter(process_errors(run_dir)), None)
    if first is not None:
        return Ending("failed", f"process {first.get('rank')}: {first['error']}")
    return Ending("cancelled" if interrupted else "failed", error)


@dataclass
class TrainState:
    """Where a training run stands: what `checkpoint/trainer_state.json` holds, all a resume needs besides the
    weights, optimizer and scheduler."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # the epoch in progress (0-based)
    batch_in_epoch: int = 0  # this process's micro-batches of that epoch already trained on
    best_eval_loss: float | None = None
    best_step: int | None = None  # the step of best_eval_loss (the adapter in adapter/)
    bad_evals: int = 0  # validations in a row without improvement (early stopping)
    epoch_float: float = 0.0  # progress in epochs, e.g. 1.25


def rng_state_path(folder: Path, rank: int) -> Path:
    """A checkpoint's random-number state of process `rank` (python, numpy, torch, cuda): each process has
    its own."""
    return Path(folder) / f"rng_state_{int(rank)}.pt"


def write_trainer_state(folder: Path, state: TrainState) -> None:
    write_json_atomic(folder / TRAINER_STATE, dataclasses.asdict(state))


def read_trainer_state(run_dir: str | Path) -> TrainState:
    """The checkpoint's TrainState; RunFolderError when there is none."""
    data = _read_json(checkpoint_dir(run_dir) / TRAINER_STATE)
    if not isinstance(data, dict):
        raise RunFolderError(f"cannot resume: {run_dir} has no readable checkpoint/{TRAINER_STATE}")
    known = {f.name for f in dataclasses.fields(TrainState)}
    return TrainState(**{k: v for k, v in data.items() if k in known})


class TrainLog:
    """train_log.jsonl, appended one row at a time (each stamped with `time`) and flushed, so the app
    follows."""

    def __init__(self, run_dir: str | Path, enabled: bool = True):
        self._file = train_log_path(run_dir).open("a", encoding="utf-8") if enabled else None

    def write(self, row: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps({**row, "time": time.time()}) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def load_train_config(run_dir: str | Path) -> TrainConfig:
    """The run's TrainConfig from config.json (fields this version does not know are ignored)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {run_dir} does not exist")
    path = config_path(run_dir)
    if not path.is_file():
        raise RunFolderError(f"{run_dir} is not a run folder: it has no config.json")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path} is not valid JSON: {e}") from None
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return config_from_dict(TrainConfig, {k: v for k, v in values.items() if k in known})


# --------------------------------------------------------------------------------------------- outputs
class OutputName(NamedTuple):
    """What an outputs file's name says: `<system>__<decoding>__seed<seed>.jsonl`."""

    system: str
    decoding: str
    seed: int


def output_file_name(system: str, decoding: str, seed: int) -> str:
    return f"{system}__{decoding}__seed{seed}.jsonl"


def output_path(output_dir: str | Path, system: str, decoding: str, seed: int) -> Path:
    """`<output_dir>/outputs/<system>__<decoding>__seed<seed>.jsonl` (output_dir is usually the run
    folder)."""
    return outputs_dir(output_dir) / output_file_name(system, decoding, seed)


def partial_path(path: Path) -> Path:
    """Where generation appends the finished batches of an outputs file before it is complete."""
    return path.with_name(f".{path.name}.partial")


def parse_output_name(path: str | Path) -> OutputName | None:
    """(system, decoding, seed) from an outputs file name; None for a name outside the scheme."""
    match = _OUTPUT_NAME.match(Path(path).name)
    if match is None:
        return None
    return OutputName(match["system"], match["decoding"], int(match["seed"]))


def output_files(folder: str | Path) -> list[Path]:
    """The visible *.jsonl files of an outputs folder, sorted; [] when it does not exist."""
    try:
        return sorted(p for p in Path(folder).glob("*.jsonl") if not p.name.startswith("."))
    except OSError:
        return []


class OutputFile(NamedTuple):
    """An outputs file and what its name says."""

    path: Path
    name: OutputName


def list_outputs(run_dir: str | Path) -> list[OutputFile]:
    """The outputs files of a run folder whose names follow the scheme (others are skipped), sorted by
    name."""
    found = []
    for path in output_files(outputs_dir(run_dir)):
        name = parse_output_name(path)
        if name is not None:
            found.append(OutputFile(path, name))
    return found


def has_outputs(run_dir: str | Path) -> bool:
    return bool(output_files(outputs_dir(run_dir)))


@dataclass
class JsonlRecords:
    """The records of a JSONL file up to its first line that is not JSON (a line cut by a crash, or
    damage)."""

    records: list[Any]
    bad_line: int | None = None  # 1-based number of that line; None when every line was read
    error: str | None = None  # what the JSON parser said about it


def read_jsonl(path: str | Path) -> JsonlRecords:
    """Read a JSONL file (blank lines skipped); reading stops at the first line that is not JSON."""
    records = []
    with Path(path).open("rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                return JsonlRecords(records, number, "not UTF-8 text")
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                return JsonlRecords(records, number, e.msg)
    return JsonlRecords(records)


def count_records(path: str | Path) -> int:
    """Non-blank lines of a JSONL file (its number of items), without parsing or decoding them (a damaged file
    is counted; reading it says what is wrong)."""
    with Path(path).open("rb") as f:
        return sum(1 for line in f if line.strip())


# --------------------------------------------------------------------------------------------- scores
def write_scores(
    folder: str | Path,
    per_example: pd.DataFrame,
    comparison: pd.DataFrame,
    corpus: pd.DataFrame,
    signatures: dict[str, str],
    config: Any,
) -> None:
    """Every file of scores/, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_frame_atomic(folder / PER_EXAMPLE, per_example, "parquet")
    _write_frame_atomic(folder / COMPARISON_CSV, comparison, "csv")
    write_json_atomic(folder / COMPARISON_JSON, json.loads(comparison.to_json(orient="records")))  # NaN: null
    _write_frame_atomic(folder / CORPUS_CSV, corpus, "csv")
    write_json_atomic(folder / SIGNATURES, signatures)
    write_config(folder / SCORE_CONFIG, config)


def read_per_example(run_dir: str | Path) -> pd.DataFrame | None:
    """scores/per_example.parquet (item_id as text), or None when the run has not been scored. Per-item
    BLEU and chrF columns under their corpus names (folders scored before SENTENCE_COLUMNS) come back as
    sentence_*."""
    path = scores_dir(run_dir) / PER_EXAMPLE
    if not path.is_file():
        return None
    frame = pd.read_parquet(path)
    if "item_id" in frame:  # a file without one is the reader's to refuse, naming the column
        frame["item_id"] = frame["item_id"].astype(str)
    old = {c: per_item_metric(c) for c in frame.columns if c in SENTENCE_COLUMNS}
    return frame.rename(columns={c: new for c, new in old.items() if new not in frame.columns})


def read_comparison(run_dir: str | Path) -> pd.DataFrame:
    """scores/comparison.json (decoding, metric, base, finetuned, delta, ci_low, ci_high, p_value, ...); empty
    when absent."""
    data = _read_json(scores_dir(run_dir) / COMPARISON_JSON)
    if isinstance(data, dict):
        data = data.get("rows", [])
    return pd.DataFrame(data if isinstance(data, list) else [])


# --------------------------------------------------------------------------------------------- judges
def judges_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / JUDGES


def judge_dir(run_dir: str | Path, name: str) -> Path:
    """`<run_dir>/judges/<name>/`: one judge's verdicts, config and summary."""
    return judges_dir(run_dir) / name


def verdicts_path(run_dir: str | Path, name: str) -> Path:
    return judge_dir(run_dir, name) / VERDICTS


def list_judges(run_dir: str | Path) -> list[str]:
    """The names of the judges that left verdicts in a run folder, sorted; [] when none."""
    try:
        return sorted(
            p.name for p in judges_dir(run_dir).iterdir() if p.is_dir() and (p / VERDICTS).is_file()
        )
    except OSError:
        return []


def read_verdict_records(run_dir: str | Path, name: str) -> JsonlRecords:
    """A judge's verdict records up to the first line that is not JSON (a line cut by a crash); none when the
    file is missing."""
    path = verdicts_path(run_dir, name)
    if not path.is_file():
        return JsonlRecords([])
    return read_jsonl(path)


def read_verdicts(run_dir: str | Path, name: str) -> pd.DataFrame:
    """A judge's verdicts.jsonl as a frame (one row per judged pair, columns in docs/run-folder.md; item_id as
    text); empty when the judge has none. A last line being written is skipped."""
    try:
        records = [r for r in read_verdict_records(run_dir, name).records if isinstance(r, dict)]
    except OSError:
        records = []
    frame = pd.DataFrame(records)
    if "item_id" in frame:
        frame["item_id"] = frame["item_id"].astype(str)
    return frame


def read_judge_config(run_dir: str | Path, name: str) -> dict[str, Any]:
    """judges/<name>/judge_config.json as a dict; {} when missing."""
    data = _read_json(judge_dir(run_dir, name) / JUDGE_CONFIG)
    return data if isinstance(data, dict) else {}


def read_judge_summary(run_dir: str | Path, name: str) -> dict[str, Any]:
    """judges/<name>/summary.json as a dict; {} when missing (a judge still running or stopped half-way)."""
    data = _read_json(judge_dir(run_dir, name) / JUDGE_SUMMARY)
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------------------------- sweeps
def sweep_member_name(learning_rate: float, lora_r: int) -> str:
    """Folder name of one grid point: lr{lr}_r{r} with the float as Python prints it (lr3e-05_r8)."""
    return f"lr{float(learning_rate)}_r{int(lora_r)}"


_SHORT_NAMES = {"learning_rate": "lr", "lora_r": "r"}


def sweep_point_name(values: dict[str, Any]) -> str:
    """Folder name of one sweep point: each swept field's name and value, `max_target_length441_lr0.0001`;
    the old grid's `lr0.0001_r16` for learning rate x rank. A name past 100 characters is cut and ends in a
    hash of the values, so two points never share a folder."""

    def word(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, tuple)):
            return "-".join(word(v) for v in value)
        return str(float(value)) if isinstance(value, float) else str(value)

    parts = [f"{_SHORT_NAMES.get(n, n.rpartition('.')[2])}{word(v)}" for n, v in values.items()]
    name = re.sub(r"[^A-Za-z0-9._+=-]", "-", "_".join(parts))
    if len(name) > 100:
        digest = hashlib.sha1(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:8]
        name = f"{name[:90]}_{digest}"
    return name


def parse_sweep_member(name: str) -> tuple[float, int] | None:
    """(learning rate, LoRA rank) from a grid point's folder name; None for another name."""
    match = _SWEEP_MEMBER.match(name)
    if match is None:
        return None
    try:
        return float(match["lr"]), int(match["r"])
    except ValueError:  # e.g. "lr1e-4e_r8": the pattern's characters, but not a number
        return None


def write_sweep(sweep_dir: str | Path, summary: dict[str, Any]) -> None:
    write_json_atomic(sweep_path(sweep_dir), summary)


def read_sweep(sweep_dir: str | Path) -> dict[str, Any] | None:
    """sweep.json, or None when absent or unreadable."""
    data = _read_json(sweep_path(sweep_dir))
    return data if isinstance(data, dict) else None


def sweep_member_dirs(sweep_dir: str | Path) -> list[Path]:
    """A sweep's run folders: those sweep.json lists (possibly not started yet), then any other run folder
    in it."""
    sweep_dir = Path(sweep_dir)
    listed = read_sweep(sweep_dir) or {}
    paths: list[Path] = []
    for entry in listed.get("runs", []):
        where = entry.get("run_dir") if isinstance(entry, dict) else entry
        if where:
            path = Path(where)
            paths.append(path if path.is_absolute() or path.exists() else sweep_dir / path.name)
    try:
        paths += [p for p in sorted(sweep_dir.iterdir()) if p.is_dir() and is_run(p) and p not in paths]
    except OSError:
        pass
    return list(dict.fromkeys(paths))


# --------------------------------------------------------------------------------------------- finding runs
def is_run(path: str | Path) -> bool:
    """A training run (config, status or log) or a folder of outputs made elsewhere (outputs/ or scores/)."""
    path = Path(path)
    return any((path / name).is_file() for name in RUN_FILES) or any(
        (path / name).is_dir() for name in (OUTPUTS, SCORES)
    )


def is_sweep(path: str | Path) -> bool:
    """A folder with sweep.json, or with grid-point run folders (lr{lr}_r{r})."""
    path = Path(path)
    try:
        return sweep_path(path).is_file() or any(
            parse_sweep_member(p.name) is not None and is_run(p) for p in path.iterdir() if p.is_dir()
        )
    except OSError:
        return False


def find_runs(root: str | Path) -> list[Path]:
    """Run folders under `root` and one level below (sweep members), sorted by name; hidden folders
    skipped."""
    root = Path(root)
    found: list[Path] = []
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    for child in children:
        if is_run(child):
            found.append(child)
        try:
            found += sorted(g for g in child.iterdir() if g.is_dir() and is_run(g))
        except OSError:
            continue
    return found


def find_sweeps(root: str | Path) -> list[Path]:
    """Sweep folders directly under `root`."""
    try:
        return sorted(
            p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".") and is_sweep(p)
        )
    except OSError:
        return []


def folders_with_outputs(root: str | Path) -> list[Path]:
    """Folders directly under `root` that hold generated outputs, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and has_outputs(p)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


# --------------------------------------------------------------------------------------------- the writer
def pid_alive(pid: Any) -> bool:
    """Is there a process with this id (ours or another user's)? False for anything that is not a positive
    int."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def writer_alive(status: RunStatus) -> bool:
    """Does the process that says it writes this run folder still run? (A crashed run leaves "running".)"""
    return status.running and pid_alive(status.pid)

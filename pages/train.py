"""Train (researchers): launch a LoRA run or an lr x r sweep from a form built from TrainConfig's fields.

The form is `ft_core.config.field_groups(TrainConfig)`; its values go through `config_from_dict`, so a bad value
gives exactly the ConfigError the CLI gives. Launching queues `python -m ft_core train|sweep ...` as a separate
process (jobs.training); the page shows the same command for a terminal or a cluster.
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st
import yaml

from annotations.errors import AnnotationError
from ft_core.config import SweepConfig, TrainConfig, config_from_dict, config_to_dict, field_groups
from ft_core.data import read_records
from ft_core.errors import ConfigError, FtCoreError
from jobs import commands, machine, scheduler, training
from pages.plain_text import escape_markdown
from pages.shared import link, require_role, runs_dir, store

require_role("researcher")
con = store()
scheduler.ensure_watcher(con)
st.title("Train")


GROUPS = ("data", "model", "lora", "optimization", "validation", "hardware")
# The report's advice, as starting points (every field stays editable below).
PRESETS: dict[str, dict[str, object]] = {
    "Defaults": {},
    "Sanity overfit (32 examples, loss must reach ~0)": {
        "sanity_overfit": True,
        "max_train_examples": 32,
        "epochs": 30.0,
        "learning_rate": 1e-3,
        "lora_dropout": 0.0,
        "eval_every_steps": 0,
        "early_stopping_patience": 0,
    },
    "3-5 epochs with validation and early stopping": {
        "epochs": 4.0,
        "eval_every_steps": 0,
        "early_stopping_patience": 2,
        "learning_rate": 1e-4,
        "lr_scheduler": "cosine",
        "warmup_ratio": 0.03,
    },
    "lr x r sweep over {3e-5, 1e-4, 3e-4} x {8, 16, 32}": {
        "epochs": 3.0,
        "eval_every_steps": 0,
        "early_stopping_patience": 2,
    },
    "Quick CPU try (48 examples, 12 steps)": {
        "max_train_examples": 48,
        "max_eval_examples": 16,
        "max_source_length": 256,
        "max_target_length": 48,
        "batch_size": 4,
        "max_steps": 12,
        "eval_every_steps": 6,
        "log_every_steps": 1,
        "lora_r": 8,
        "lora_alpha": 16,
    },
}
SWEEP_PRESET = "lr x r sweep over {3e-5, 1e-4, 3e-4} x {8, 16, 32}"
HINTS = typing.get_type_hints(TrainConfig)
FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def widget_value(name: str, value: object) -> object:
    """A config value as its widget holds it (text for floats, optional and list fields)."""
    hint, f = HINTS[name], FIELDS[name]
    if hint is bool or hint is int or f.metadata.get("choices"):
        return value
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def apply_preset() -> None:
    defaults = TrainConfig()
    values = {f: getattr(defaults, f) for f in FIELDS}
    values["run_dir"] = str(runs_dir() / f"run-{datetime.now().strftime('%Y%m%d-%H%M')}")  # a fresh folder
    values.update(PRESETS[st.session_state["preset"]])
    for name, value in values.items():
        st.session_state[f"cfg_{name}"] = widget_value(name, value)


if "cfg_run_dir" not in st.session_state:
    # Streamlit forgets widget values when another page is shown: restore the form kept under a plain key.
    kept = st.session_state.get("train_form")
    if kept:
        st.session_state.update(kept)
    else:
        st.session_state.setdefault("preset", "Defaults")
        apply_preset()

preset = st.selectbox("Preset", list(PRESETS), key="preset", on_change=apply_preset)
is_sweep = preset == SWEEP_PRESET
if is_sweep:
    c1, c2 = st.columns(2)
    lr_text = c1.text_input("Learning rates", "3e-5, 1e-4, 3e-4", key="sweep_lrs")
    r_text = c2.text_input("LoRA ranks", "8, 16, 32", key="sweep_ranks")

values: dict[str, object] = {}
groups = field_groups(TrainConfig)
for tab, group in zip(st.tabs([g.capitalize() for g in GROUPS]), GROUPS):
    with tab:
        columns = st.columns(2)
        for i, f in enumerate(groups.get(group, [])):
            key, hint, help_ = f"cfg_{f.name}", HINTS[f.name], f.metadata.get("help")
            where = columns[i % 2]
            if f.metadata.get("choices"):
                values[f.name] = where.selectbox(f.name, f.metadata["choices"], key=key, help=help_)
            elif hint is bool:
                values[f.name] = where.checkbox(f.name, key=key, help=help_)
            elif hint is int:
                values[f.name] = where.number_input(f.name, step=1, key=key, help=help_)
            elif f.name == "prompt_template":
                values[f.name] = where.text_area(f.name, key=key, help=help_)
            else:
                values[f.name] = where.text_input(f.name, key=key, help=help_)

keys = ["preset", *(f"cfg_{name}" for name in FIELDS), "sweep_lrs", "sweep_ranks"]
st.session_state["train_form"] = {k: st.session_state[k] for k in keys if k in st.session_state}

gpus = machine.detect_gpus()
n_gpus = 1
if len(gpus) > 1:
    n_gpus = int(
        st.number_input(
            f"GPUs for this run ({len(gpus)} here; more than one: `accelerate launch`, data parallel)",
            1,
            len(gpus),
            len(gpus),
            key="n_gpus",
        )
    )
st.caption(
    f"This machine: {len(gpus)} GPU(s)"
    if gpus
    else "This machine: no GPU; jobs run on the CPU, one at a time."
)

try:
    config = config_from_dict(TrainConfig, values)
    config_error = None
except ConfigError as e:
    config, config_error = None, str(e)
grid: SweepConfig | None = None
if is_sweep:
    try:
        grid = config_from_dict(SweepConfig, {"learning_rates": lr_text, "lora_ranks": r_text})
    except ConfigError as e:
        config_error = config_error or str(e)

if config_error:
    st.error(escape_markdown(config_error))
else:
    assert config is not None
    st.success("The configuration is valid.")
    with st.expander("Run it from a terminal or on a cluster"):
        file_name = f"{Path(config.run_dir).name}.yaml"
        if grid is not None:
            command = commands.sweep_command(file_name, grid, n_gpus)
        else:
            command = commands.train_command(file_name, n_gpus)
        st.code(commands.shell_command(command), language="bash")
        st.text(f"{file_name}:")
        st.code(yaml.safe_dump(config_to_dict(config), sort_keys=False), language="yaml")
        st.markdown("SLURM (`sbatch run.sh`):")
        st.code(commands.slurm_script(command, max(n_gpus, 1), Path(config.run_dir).name), language="bash")

left, right = st.columns(2)
if left.button("Check data and preview", key="check", disabled=config is None):
    with st.spinner("Loading the tokenizer and the data (no training) ..."):
        try:
            report = training.check_train(config, runs_dir())
        except AnnotationError as e:
            st.error(escape_markdown(e))
        else:
            st.session_state["check_report"] = report
report = st.session_state.get("check_report")
if report and config is not None:
    st.subheader("Data set preview")
    cols = st.columns(4)
    cols[0].metric("Training examples", report.get("train_examples"))
    cols[1].metric("Validation examples", report.get("validation_examples"))
    cols[2].metric("Sources truncated", f"{report.get('sources_truncated_share', 0):.1%}")
    cols[3].metric("Targets truncated", f"{report.get('targets_truncated_share', 0):.1%}")
    st.caption(
        f"Sources cut at max_source_length={config.max_source_length}: {report.get('sources_truncated')} of "
        f"{report.get('examples')} (mean {report.get('source_tokens_lost_mean', 0):.0f}, max "
        f"{report.get('source_tokens_lost_max')} tokens lost). Targets cut at max_target_length="
        f"{config.max_target_length}: {report.get('targets_truncated')} (mean "
        f"{report.get('target_tokens_lost_mean', 0):.0f}, max {report.get('target_tokens_lost_max')})."
    )
    try:
        rows = read_records(config.train_file)[:5]
    except FtCoreError as e:
        st.warning(escape_markdown(e))
    else:
        st.caption(f"The first {len(rows)} rows of {escape_markdown(config.train_file)}:")
        preview = pd.DataFrame(rows).astype(str)
        first = [c for c in (config.source_column, config.target_column) if c in preview]
        st.dataframe(preview[first + [c for c in preview if c not in first]], hide_index=True)

ready = config is not None and (grid is not None or not is_sweep)
if right.button("Launch", type="primary", key="launch", disabled=not ready):
    assert config is not None
    try:
        if grid is not None:
            job = training.sweep_job(con, config, grid, runs_dir(), n_gpus)
        else:
            job = training.train_job(con, config, runs_dir(), n_gpus)
    except AnnotationError as e:
        st.error(escape_markdown(e))
    else:
        where = "started" if job.status == "running" else f"{job.status} (waiting for a free slot)"
        st.success(
            f"Job '{escape_markdown(job.label)}' {where}. Watch it on the Jobs page; closing the browser does not "
            "stop it."
        )
        link("pages/jobs.py", label="Open the Jobs page", icon=":material/work_history:")

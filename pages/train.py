"""Train (researchers): launch a LoRA run or an lr x r sweep from a form in the researcher's words, and below
it preference tuning (DPO) of a finished run on a study's preferences (pages/train_dpo.py).

The run name comes first. Every field shows its label and help from `ft_core.config`'s own metadata (the words
the CLI's `--help` prints), the rarely changed ones folded under "Advanced"; the data come from a picker
(pages/train_form.py) that shows the chosen file's first rows and real columns. The values go through
`config_from_dict`, so a bad value gives exactly the ConfigError the CLI gives; a problem with the data or the
run name is shown before Launch and keeps it disabled. Launching queues `python -m ft_core train|sweep ...` as
a separate process (jobs.training); the page shows the same command for a terminal or a cluster.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import yaml

from annotations.errors import AnnotationError
from annotations.plurals import counted
from ft_core import runfolder, sanity
from ft_core.config import SweepConfig, TrainConfig, config_from_dict, config_to_dict, field_specs
from ft_core.errors import ConfigError
from jobs import commands, machine, scheduler, training
from jobs.errors import JobError
from pages.plain_text import escape_markdown
from pages.shared import link, require_role, runs_dir, signed_in, store
from pages.train_dpo import preference_tuning_section
from pages.train_form import (
    DATA_FIELDS,
    chosen_data_set_name,
    data_picker,
    default_run_name,
    field_widget,
    run_name_problem,
    widget_text,
)

require_role("researcher")
con = store()
scheduler.ensure_watcher(con)
st.title("Train")


GROUPS = {"model": "Model", "data": "Data", "lora": "LoRA", "optimization": "Optimization"}
GROUPS |= {"validation": "Validation", "hardware": "Hardware"}
# The report's advice, as starting points (every field stays editable below).
PRESETS: dict[str, dict[str, object]] = {
    "Defaults": {},
    f"Sanity overfit ({sanity.EXAMPLES} examples, loss must reach ~0)": sanity.PRESET,
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
SPECS = {spec.name: spec for spec in field_specs(TrainConfig)}
FORM_FIELDS = [
    n for n in SPECS if n not in DATA_FIELDS and n != "run_dir"
]  # the picker and the run name do these


def apply_preset() -> None:
    """Fill the form's fields with the defaults, then the chosen preset (the data and the run name stay)."""
    values = {name: SPECS[name].default for name in FORM_FIELDS}
    values.update(PRESETS[st.session_state["preset"]])
    for name, value in values.items():
        st.session_state[f"cfg_{name}"] = widget_text(SPECS[name], value)


def fresh_form() -> None:
    """A new form: defaults, the embedded model, the default data files and columns, a readable run name."""
    st.session_state.setdefault("preset", "Defaults")
    apply_preset()
    for name in DATA_FIELDS:
        st.session_state[f"cfg_{name}"] = widget_text(SPECS[name], SPECS[name].default)
    st.session_state["run_name"] = ""


if "cfg_base_model" not in st.session_state:
    # Streamlit forgets widget values when another page is shown: restore the form kept under a plain key.
    kept = st.session_state.get("train_form")
    if kept:
        st.session_state.update(kept)
    else:
        fresh_form()

model = Path(str(st.session_state.get("cfg_base_model") or "model")).name
if not st.session_state.get("run_name"):
    st.session_state["run_name"] = default_run_name(f"{chosen_data_set_name() or 'run'}-{model}", runs_dir())
run_name = st.text_input(
    "Run name",
    key="run_name",
    help="names the run folder, its job on the Jobs page and the run on the Runs and Results pages",
).strip()
st.caption(f"Run folder: {escape_markdown(runs_dir() / run_name)}")
preset = st.selectbox("Preset", list(PRESETS), key="preset", on_change=signed_in(apply_preset))
is_sweep = preset == SWEEP_PRESET
if is_sweep:
    c1, c2 = st.columns(2)
    lr_text = c1.text_input("Learning rates", "3e-5, 1e-4, 3e-4", key="sweep_lrs")
    r_text = c2.text_input("LoRA ranks", "8, 16, 32", key="sweep_ranks")

values: dict[str, object] = {}
tabs = dict(zip(GROUPS, st.tabs(list(GROUPS.values()))))
with tabs["data"]:
    data = data_picker(SPECS)
    values.update(data.values)
for group, tab in tabs.items():
    fields = [SPECS[n] for n in FORM_FIELDS if SPECS[n].group == group]
    with tab:
        plain, advanced = [f for f in fields if not f.advanced], [f for f in fields if f.advanced]
        columns = st.columns(2)
        for i, spec in enumerate(plain):
            values[spec.name] = field_widget(spec, columns[i % 2])
        if advanced:
            with st.expander(f"Advanced {GROUPS[group]} settings"):
                columns = st.columns(2)
                for i, spec in enumerate(advanced):
                    values[spec.name] = field_widget(spec, columns[i % 2])

values["run_dir"] = str(runs_dir() / run_name)

keys = ["preset", "run_name", "data_mode", "data_set", "picker_kept", *(f"cfg_{name}" for name in SPECS)]
keys += ["pick_train_file", "pick_validation_file", "pick_test_file", "sweep_lrs", "sweep_ranks"]
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
    f"This machine: {counted(len(gpus), 'GPU')}"
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
problems = [p for p in (run_name_problem(run_name),) if p] + data.problems
if config is not None and not problems:
    folder = runfolder.run_dir_problem(config.run_dir, config.resume)
    problems += [folder.replace("choose another run_dir", "choose another run name")] if folder else []

if config_error or problems:
    for problem in ([config_error] if config_error else []) + problems:
        st.error(escape_markdown(problem))
else:
    assert config is not None
    st.success("Ready to launch: the configuration is valid and the data files have the chosen columns.")
    with st.expander("Run it from a terminal or on a cluster"):
        file_name = f"{Path(config.run_dir).name}.yaml"
        if grid is not None:
            command = commands.sweep_command(file_name, grid, n_gpus)
        else:
            command = commands.train_command(file_name, n_gpus)
        st.code(commands.shell_command(command, commands.README_PYTHON), language="bash")
        st.text(f"{file_name}:")
        st.code(yaml.safe_dump(config_to_dict(config), sort_keys=False), language="yaml")
        st.markdown("SLURM (`sbatch run.sh`):")
        st.code(commands.slurm_script(command, max(n_gpus, 1), Path(config.run_dir).name), language="bash")

ready = config is not None and not problems and (grid is not None or not is_sweep)
left, right = st.columns(2)
if left.button("Check tokens and truncation", key="check", disabled=not ready):
    with st.spinner("Loading the tokenizer and the data (no training) ..."):
        try:
            report = training.check_train(config, runs_dir())
        except (AnnotationError, JobError) as e:
            st.error(escape_markdown(e))
        else:
            st.session_state["check_report"] = report
report = st.session_state.get("check_report")
if report and config is not None:
    st.subheader("Tokens and truncation")
    cols = st.columns(4)
    cols[0].metric("Training examples", report.train_examples)
    cols[1].metric("Validation examples", report.validation_examples)
    cols[2].metric("Sources truncated", f"{report.sources_truncated_share or 0:.1%}")
    cols[3].metric("Targets truncated", f"{report.targets_truncated_share or 0:.1%}")
    st.caption(
        f"Sources cut at {SPECS['max_source_length'].label.lower()} {config.max_source_length}: "
        f"{report.sources_truncated} of {report.examples} (mean "
        f"{report.source_tokens_lost_mean or 0:.0f}, max {report.source_tokens_lost_max} tokens lost). "
        f"Targets cut at {SPECS['max_target_length'].label.lower()} {config.max_target_length}: "
        f"{report.targets_truncated} (mean {report.target_tokens_lost_mean or 0:.0f}, max "
        f"{report.target_tokens_lost_max})."
    )

if right.button("Launch", type="primary", key="launch", disabled=not ready):
    assert config is not None
    try:
        if grid is not None:
            job = training.sweep_job(con, config, grid, runs_dir(), n_gpus)
        else:
            job = training.train_job(con, config, runs_dir(), n_gpus, label=f"train {run_name}")
    except (AnnotationError, JobError) as e:
        st.error(escape_markdown(e))
    else:
        where = "started" if job.status == "running" else f"{job.status} (waiting for a free slot)"
        st.success(
            f"Job '{escape_markdown(job.label)}' {where}. Watch it on the Jobs page; closing the browser "
            "does not "
            "stop it."
        )
        link("pages/jobs.py", label="Open the Jobs page", icon=":material/work_history:")

st.divider()
preference_tuning_section(con, runs_dir())

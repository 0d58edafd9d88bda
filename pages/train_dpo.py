"""The Train page's preference-tuning section: a fine-tuned run, a preferences export (the Results page's
button or `annotations preferences`), the `DPOTrainConfig` fields from the config's own metadata, and Launch,
which queues `python -m ft_core dpo --config ...` (jobs.training.dpo_job). Nothing here trains or validates
beyond what the config and the run folder say; `ft_core dpo` checks the export and the versions itself and
fails the job on one line."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import yaml

from ft_core import runfolder
from ft_core.config import DPOTrainConfig, config_from_dict, config_to_dict, field_specs
from ft_core.errors import ConfigError
from jobs import commands, training
from jobs.errors import JobError
from pages.plain_text import escape_markdown
from pages.train_form import default_run_name, field_widget, run_name_problem, widget_text

PREFIX = "dpo_"
SPECS = {spec.name: spec for spec in field_specs(DPOTrainConfig)}
FORM_FIELDS = [n for n in SPECS if n not in ("sft_run", "preferences", "run_dir")]


def fine_tuned_runs(runs_root: Path) -> list[Path]:
    """The runs DPO can start from: those with an adapter."""
    return [p for p in runfolder.find_runs(runs_root) if runfolder.has_adapter(p)]


def preference_tuning_section(con, runs_root: Path) -> None:
    """The form and its Launch button."""
    st.header("Preference tuning (DPO)")
    runs = fine_tuned_runs(runs_root)
    if not runs:
        st.info(
            "No fine-tuned run with an adapter yet: train one above, then tune it on the study's preferences."
        )
        return
    names = [str(p.relative_to(runs_root)) for p in runs]
    sft_name = st.selectbox("Fine-tuned run", names, key=f"{PREFIX}sft_run", help=SPECS["sft_run"].help)
    export = st.text_input(
        SPECS["preferences"].label, key=f"{PREFIX}preferences", help=SPECS["preferences"].help
    ).strip()
    for name in FORM_FIELDS:
        st.session_state.setdefault(f"{PREFIX}{name}", widget_text(SPECS[name], SPECS[name].default))
    if not st.session_state.get(f"{PREFIX}run_name"):
        st.session_state[f"{PREFIX}run_name"] = default_run_name(f"{Path(sft_name).name}-dpo", runs_root)
    run_name = st.text_input("DPO run name", key=f"{PREFIX}run_name").strip()
    values: dict[str, object] = {
        "sft_run": str(runs_root / sft_name),
        "preferences": export,
        "run_dir": str(runs_root / run_name),
    }
    plain = [SPECS[n] for n in FORM_FIELDS if not SPECS[n].advanced]
    columns = st.columns(2)
    for i, spec in enumerate(plain):
        values[spec.name] = field_widget(spec, columns[i % 2], PREFIX)
    with st.expander("Advanced preference-tuning settings"):
        columns = st.columns(2)
        for i, spec in enumerate(s for s in (SPECS[n] for n in FORM_FIELDS) if s.advanced):
            values[spec.name] = field_widget(spec, columns[i % 2], PREFIX)
    if not export:
        st.info("Name the preferences export folder (the Results page's preferences button writes one).")
        return
    try:
        config = config_from_dict(DPOTrainConfig, values)
    except ConfigError as e:
        st.error(escape_markdown(e))
        return
    problems = [p for p in (run_name_problem(run_name),) if p]
    if not (Path(export) / "preferences.jsonl").is_file() and not Path(export).is_file():
        problems.append(f"no preferences export at {export} (a folder with preferences.jsonl, or the file)")
    folder = runfolder.dpo_run_dir_problem(config.run_dir, config.resume)
    problems += [folder.replace("choose another run_dir", "choose another run name")] if folder else []
    for problem in problems:
        st.error(escape_markdown(problem))
    with st.expander("Run it from a terminal"):
        file_name = f"{Path(config.run_dir).name}.yaml"
        st.code(
            commands.shell_command(commands.dpo_command(file_name), commands.README_PYTHON), language="bash"
        )
        st.code(yaml.safe_dump(config_to_dict(config), sort_keys=False), language="yaml")
    if st.button("Launch preference tuning", type="primary", key=f"{PREFIX}launch", disabled=bool(problems)):
        try:
            job = training.dpo_job(con, config, runs_root, label=f"dpo {run_name}")
        except JobError as e:
            st.error(escape_markdown(e))
        else:
            where = "started" if job.status == "running" else f"{job.status} (waiting for a free slot)"
            st.success(f"Job '{escape_markdown(job.label)}' {where}. Watch it on the Jobs page.")

"""Runs (researchers): compare run folders — overlaid loss/eval curves, configs side by side, metric tables, a
sweep's points (a table, a chart per swept field, the heatmap of an lr x r grid) — and carry a finished run
on: generate and score, then create a campaign.

Everything is read from the run folders (annotations.campaigns.runs), so a folder deleted while listed only
drops out.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from annotations.campaigns import (
    CampaignConfig,
    create_campaign,
    get_campaign,
    runs,
)
from annotations.errors import AnnotationError
from ft_core import runfolder
from ft_core.config import GenerateConfig, ScoreConfig
from ft_core.errors import FtCoreError
from jobs import evaluation, queue, scheduler
from jobs.errors import JobError
from pages.campaign_form import campaign_options
from pages.plain_text import escape_markdown
from pages.shared import link, require_role, runs_dir, store

user = require_role("researcher")
con = store()
scheduler.ensure_watcher(con)
st.title("Runs")


table = runs.list_runs(runs_dir())
if table.empty:
    st.info(
        f"No run folder in {escape_markdown(runs_dir())} yet. Launch a run on the Train page, or run the "
        "demo "
        "from Home."
    )
    link("pages/train.py", "Train", ":material/model_training:")
    st.stop()

st.dataframe(table.drop(columns=["path"]), hide_index=True, width="stretch")
paths = dict(zip(table.run, table.path))
finished = table[table.state == "finished"].run.tolist()
chosen = st.multiselect("Runs to compare", list(paths), default=finished[:2] or list(paths)[:1], key="chosen")
selected = {run: paths[run] for run in chosen}

curves_tab, configs_tab, metrics_tab, sweep_tab = st.tabs(["Curves", "Configs", "Metrics", "Sweep"])
with curves_tab:
    metrics = st.multiselect(
        "Curves",
        ["loss", "eval_loss", "lr", "grad_norm", "tokens_per_s"],
        default=["loss", "eval_loss"],
        key="curve_metrics",
    )
    long = runs.curves(selected, tuple(metrics))
    if long.empty:
        st.info("No logged steps yet for these runs.")
    for metric in metrics:
        part = long[long.metric == metric]
        if len(part):
            st.markdown(f"**{metric}**")
            chart = (
                alt.Chart(part)
                .mark_line(point=True)
                .encode(
                    x="step:Q",
                    y=alt.Y("value:Q", title=metric),
                    color="run:N",
                    tooltip=["run", "step", "value"],
                )
            )
            st.altair_chart(chart.properties(height=260), width="stretch")
with configs_tab:
    configs = runs.config_table(selected)
    only_diff = st.toggle("Only fields that differ", value=len(selected) > 1, key="only_diff")
    st.dataframe(configs[configs.differs] if only_diff else configs, width="stretch")
with metrics_tab:
    scores = runs.metric_tables(selected)
    if scores.empty:
        st.info("No scores yet: generate and score a finished run below.")
    else:
        st.dataframe(scores, hide_index=True, width="stretch")
        definitions = runfolder.metric_help(scores["metric"]) if "metric" in scores else ""
        if definitions:
            st.caption(definitions)  # our own text (ft_core.runfolder.METRIC_DEFINITIONS)
with sweep_tab:
    sweeps = runs.list_sweeps(runs_dir())
    if not sweeps:
        st.info("No sweep yet: use the sweep preset on the Train page, or `sweep train` (docs/tutorial.md).")
    else:
        sweep = st.selectbox("Sweep", sweeps, format_func=lambda p: Path(p).name, key="sweep")
        members = runs.sweep_members(sweep)
        fields = runs.sweep_fields(sweep)
        points = runs.sweep_points(sweep)
        st.dataframe(points.drop(columns=["path"]), hide_index=True, width="stretch", key="sweep_points")
        options = runs.sweep_metrics(points, fields)
        if not options:
            st.info("No finished point yet.")
        else:
            metric = st.selectbox("Metric", options, key="sweep_metric")
            for name in fields:  # one chart per swept field: the metric against its values
                data = points.dropna(subset=[metric])[["run", name, metric]].copy()
                numeric = pd.to_numeric(points[name], errors="coerce").notna().all()
                kind = "Q" if numeric else "O"
                data[name] = pd.to_numeric(data[name]) if numeric else data[name].astype(str)
                chart = (
                    alt.Chart(data, title=f"{metric} by {name}")
                    .mark_line(point=True)
                    .encode(
                        x=alt.X(f"{name}:{kind}", title=name, scale=alt.Scale(zero=False)),
                        y=alt.Y(f"mean({metric}):Q", title=metric, scale=alt.Scale(zero=False)),
                        tooltip=[name, alt.Tooltip(f"mean({metric}):Q", format=".4g"), "count()"],
                    )
                )
                st.altair_chart(chart, width="stretch")
            if set(fields) == {"learning_rate", "lora_r"}:  # the lr x r grid keeps its heatmap
                data = members.dropna(subset=[metric])[["learning_rate", "lora_r", metric, "run"]]
                base = alt.Chart(data).encode(
                    x=alt.X("lora_r:O", title="LoRA rank r"),
                    y=alt.Y("learning_rate:O", title="learning rate"),
                )
                heat = base.mark_rect().encode(
                    color=alt.Color(f"{metric}:Q", scale=alt.Scale(scheme="viridis")),
                    tooltip=["run", "learning_rate", "lora_r", metric],
                )
                labels = base.mark_text(color="white").encode(text=alt.Text(f"{metric}:Q", format=".4g"))
                st.altair_chart(heat + labels, width="stretch")
                st.dataframe(runs.sweep_grid(members, metric), width="stretch")
        ready = members[members.state == "finished"]
        unscored = [p for p in ready.path if not runs.comparison(p).shape[0]]
        if unscored and st.button(
            f"Generate and score the {len(unscored)} finished runs not scored yet", key="eval_sweep"
        ):
            queued = evaluation.evaluate_sweep(con, unscored, runs_dir(), limit=100)
            st.success(f"Queued {len(queued)} jobs; the charts fill in as they finish (metrics: delta_*).")

st.header("Continue a run")
run = st.selectbox(
    "Run", list(paths), index=list(paths).index(chosen[0]) if chosen else 0, key="continue_run"
)
path = paths[run]
row = table.set_index("run").loc[run]
active = [j for j in queue.list_jobs(con, queue.ACTIVE) if j.run_dir and Path(j.run_dir) == Path(path)]
for job in active:
    st.caption(escape_markdown(f"{job.label}: {job.status}"))
left, right = st.columns(2)
with left:
    st.markdown("**1. Generate and score** (base and fine-tuned on the test split)")
    limit = st.number_input("Test items (0 = all)", min_value=0, value=100, key="eval_limit")
    max_new = st.number_input(
        "max_new_tokens (0 = the run's max_target_length)", 0, 4096, 0, key="eval_tokens"
    )
    if st.button("Generate and score", key="evaluate", disabled=not row.adapter, type="primary"):
        try:
            generate, score = evaluation.evaluate_jobs(
                con,
                GenerateConfig(
                    run_dir=str(path), limit=int(limit) or None, max_new_tokens=int(max_new) or None
                ),
                ScoreConfig(run_dir=str(path)),
                runs_dir(),
            )
        except (AnnotationError, JobError, FtCoreError) as e:
            st.error(escape_markdown(e))
        else:
            st.success(
                escape_markdown(
                    f"Queued '{generate.label}' then '{score.label}'. Follow them on the Jobs page."
                )
            )
    if not row.adapter:
        st.caption("The run has no adapter yet (it is still training, or it failed).")
with right:
    st.markdown("**2. Create an annotation campaign** from its outputs")
    with st.expander("Campaign options", expanded=False):
        name = st.text_input("Name", value=f"{run}: base vs finetuned", key="camp_name")
        form = campaign_options("camp_", every_option=False)
    if st.button("Create campaign", key="campaign", disabled=not row.outputs):
        try:
            config = CampaignConfig(name=name, run_dir=str(path), **form.config_fields())
            campaign_id = create_campaign(con, config, created_by=user.user_id)
        except (AnnotationError, ValueError) as e:
            st.error(escape_markdown(e))
        else:
            cut = get_campaign(con, campaign_id).texts_truncated
            note = f" {cut:,} texts longer than {config.max_text_chars:,} characters were cut." if cut else ""
            st.success(
                escape_markdown(
                    f"Campaign '{name}' created ({campaign_id}); annotators see it on their Annotate "
                    f"page.{note}"
                )
            )
    if not row.outputs:
        st.caption("No outputs yet: generate and score first.")
    link("pages/campaigns.py", "All campaign options (criteria, gold items, quotas)", ":material/fact_check:")

"""Running `ft_core` as processes for the app: training, generation and scoring jobs, tracked in the store.

- `queue`: the jobs table (a job's row, submitting, reading, recording its state), through
  `annotations.store`.
- `scheduler`: starting queued jobs where a slot is free, settling ended ones, cancelling, the watcher thread.
- `processes`: a job's processes (started detached, found again after a restart, signalled, reaped).
- `machine`: the GPUs (nvidia-smi, busy ones), CPU slots, free ports for `accelerate launch`.
- `commands`: the command lines (`python -m ft_core`, `accelerate launch`, SLURM) and job config files.
- `logs`: a job's log, its tail, the reason it failed, the copy kept with its run.
- `training`, `evaluation`: the ft_core jobs the pages launch, from typed configs.
- `campaign_scores`, `judging`: a campaign's scores against its sources, an LLM judge on its pairs (stored by
  the app when the job ends).
- `demo`: the embedded demo (train -> generate -> score -> a campaign with simulated judgments -> a judge).

Jobs call into `annotations` (the store, and campaigns for the demo), never the reverse; no torch here (jobs
are separate processes) and no streamlit.
"""

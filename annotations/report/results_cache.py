"""Computed analyses kept on disk across app restarts, for the results page: a researcher who comes back after
a restart sees the statistics at once instead of waiting for every bootstrap again. `page_analysis` is the one
call the page makes: the kept analysis when there is one, else the stages started on the store's frames.

One pickle per (campaign, data version, analysis options) under `<data folder>/analysis_cache/` (the data
folder is the one holding the store, `$FT_APP_DB`'s folder). The key holds the campaign id, its data version
(`annotations.report.data_version`: judgment count and latest submission, so any new or edited judgment
changes it), every analysis option, a format number and the package versions the statistics were computed
with. Saving a new data version of a campaign removes that campaign's files of older versions. A file that
cannot be read back (another pandas, a half-written file) counts as missing and is removed. The files are
written by the app itself and read only by it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import tempfile
from dataclasses import asdict
from pathlib import Path

from annotations.stats.analysis_options import AnalysisOptions
from annotations.stats.campaign_analysis import CampaignAnalysis
from annotations.stats.environment import environment

# bump when CampaignAnalysis changes shape (2: sentence_bleu, ... per item; store migration 006; 3: item
FORMAT = 5
# intervals of the win rate, raw agreement; 4: nested verdict, agreement, versus_metrics, biases, evidence;
# 5: evidence.adjudicated_items and who_counts)


def cache_folder() -> Path:
    """`analysis_cache/` beside the app's store."""
    from annotations import store

    return store.default_path().resolve().parent / "analysis_cache"


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_path(folder: Path, campaign_id: str, version: str, options: AnalysisOptions) -> Path:
    """The file of one (campaign, data version, options)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", campaign_id)
    data = _digest([FORMAT, campaign_id, version])
    how = _digest([asdict(options), environment()])
    return Path(folder) / f"{safe}~{data}~{how}.pkl"


def load(folder: Path, campaign_id: str, version: str, options: AnalysisOptions) -> CampaignAnalysis | None:
    """The analysis saved for exactly this data version and these options, or None."""
    path = cache_path(folder, campaign_id, version, options)
    if not path.is_file():
        return None
    try:
        with path.open("rb") as f:
            analysis = pickle.load(f)
    except Exception:  # noqa: BLE001 - any unreadable file is a miss: recompute rather than fail the page
        path.unlink(missing_ok=True)
        return None
    return analysis if isinstance(analysis, CampaignAnalysis) else None


def save(folder: Path, campaign_id: str, version: str, analysis: CampaignAnalysis) -> Path:
    """Write the analysis (atomically; nothing to do when it is there already) and remove this campaign's
    files of other data versions."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = cache_path(folder, campaign_id, version, analysis.options)
    if path.is_file():
        return path
    prefix = path.name.split("~")[0] + "~"
    current = path.name.split("~")[1]
    for old in folder.glob(f"{prefix}*.pkl"):
        if old.name.split("~")[1] != current:
            old.unlink(missing_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=folder, delete=False, suffix=".tmp") as f:
        pickle.dump(analysis, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(f.name, path)
    return path


def page_analysis(
    con,
    campaign_id: str,
    version: str,
    options: AnalysisOptions,
    folder: Path | None = None,
    adjudications=None,
    competence_table=None,
):
    """The kept analysis of exactly this data version and these options (FinishedStages), else its stages
    started (AnalysisStages): the judgments are read first, the scores and metrics while the headline is
    computed. Save the result with `save` once `.result()` is in. `adjudications` and `competence_table`
    go to the analysis (needed by options.use_adjudicated, saved work for options.participants); with
    adjudications, `version` must say which (adjudications change no judgment)."""
    from annotations import campaigns
    from annotations.judging import judgments
    from annotations.report.analysis_stages import AnalysisStages, FinishedStages

    saved = load(folder or cache_folder(), campaign_id, version, options)
    if saved is not None:
        return FinishedStages(saved)
    return AnalysisStages(
        judgments.judgments_frame(con, campaign_id),
        lambda: judgments.scores_frame(con, campaign_id, lean=True),
        lambda: campaigns.metrics_frame(con, campaign_id),
        options,
        campaign_id,
        adjudications=adjudications,
        competence_table=competence_table,
    )

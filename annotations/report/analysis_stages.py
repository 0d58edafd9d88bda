"""The stages of `annotations.stats.analyze` as futures, for a page that draws each statistic as soon as it is
ready: the headline verdict (win rate under each tie policy, sign test) first, in a fraction of a second, then
the rest on a small thread pool (numpy, pandas and the bootstrap's matrix products release the GIL, so two
cores work at once).

    stages = AnalysisStages(judgments, scores, metrics, options, campaign_id)   # starts every stage
    # scores and metrics may be loaders (no-argument callables): they are read on the pool while the headline,
    # which needs only the judgments, is computed
    stages.headline()     # (win, win_by_policy): what the Verdict tab shows first
    stages.verdict()      # Verdict: + criteria, metric table, Bradley-Terry
    stages.agreement()    # Agreement
    stages.versus()       # MetricsVersusHumans
    stages.biases()       # Biases
    stages.result()       # the CampaignAnalysis that `analyze` returns

The speed trick of the results page, kept beside its cache (`results_cache`): the statistics are the stage
functions of `annotations.stats.analysis`, which `analyze` runs one after another. Every stage reads its
inputs only, so the values are those of the plain `analyze` (tests/annotations/report/test_analysis_stages.py
pins it). A stage waits only on stages submitted before it, so the pool cannot deadlock. No I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd

from annotations.stats import analysis, paired_metrics, preference
from annotations.stats.analysis_options import AnalysisOptions
from annotations.stats.campaign_analysis import (
    Agreement,
    Biases,
    CampaignAnalysis,
    Evidence,
    MetricsVersusHumans,
    Verdict,
)


def _frame(value: pd.DataFrame | Callable[[], pd.DataFrame] | None, columns: list[str]) -> pd.DataFrame:
    """A frame as given, loaded by calling it, or an empty frame with `columns`."""
    value = value() if callable(value) else value
    return value if value is not None else pd.DataFrame(columns=columns)


STAGES = ("verdict", "agreement", "metrics versus humans", "annotators")  # what a progress line counts


class AnalysisStages:
    """Every statistic of one campaign, started at construction and collected stage by stage."""

    def __init__(
        self,
        judgments: pd.DataFrame,
        scores: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
        metrics: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
        options: AnalysisOptions | None = None,
        campaign_id: str | None = None,
        workers: int = 2,
        adjudications: pd.DataFrame | None = None,
        competence_table: pd.DataFrame | None = None,
    ) -> None:
        self.started = time.perf_counter()
        self.options = options = options or AnalysisOptions()
        self.campaign_id = analysis.check_judgments(judgments, campaign_id)
        self.system, self.opponent = system, opponent = preference.default_pair(judgments)
        self.seconds: dict[str, float] = {}  # stage -> seconds from the start until it was ready
        # the quality checks decide the evidence only when flagged annotators are left out; otherwise the
        # headline need not wait for them
        table = analysis.annotator_quality(judgments, options.thresholds) if options.exclude_flagged else None
        self.selection = selection = analysis.select_evidence(
            judgments, table, options, adjudications, competence_table
        )
        self._pool = pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analysis")
        submit = self._submit
        self._headline = submit(
            "headline",
            analysis.headline_statistics,
            selection.used,
            system,
            opponent,
            options,
            selection.weights,
        )
        loaded_scores = submit("scores", _frame, scores, analysis.SCORE_COLUMNS)
        loaded_metrics = submit("metrics", _frame, metrics, analysis.METRIC_COLUMNS)
        self._frames = submit("frames", self._frames_and_pairs, loaded_scores, loaded_metrics)
        self._versus = submit("metrics versus humans", self._run_versus)
        self._verdict = submit("verdict", self._run_verdict)
        self._agreement = submit("agreement", self._run_agreement)
        self._biases = submit("annotators", self._run_biases, judgments, table)
        pool.shutdown(wait=False)  # the threads end once the last stage has run
        self._result: CampaignAnalysis | None = None

    def _submit(self, name: str, function, *args) -> Future:
        def timed():
            value = function(*args)
            self.seconds[name] = time.perf_counter() - self.started
            return value

        return self._pool.submit(timed)

    # ------------------------------------------------------------------ the stages (each waits on earlier
    # ones)

    def _frames_and_pairs(self, scores: Future, metrics: Future):
        scores, metrics = analysis.evidence_frames(scores.result(), metrics.result(), self.selection.used)
        return scores, metrics, paired_metrics.metric_pairs(metrics, self.system, self.opponent)

    def _run_versus(self) -> MetricsVersusHumans:
        scores, metrics, pairs = self._frames.result()
        used, o = self.selection.used, self.options
        return analysis.metrics_versus_humans(
            scores, metrics, used, self.system, self.opponent, o, pairs[0] - pairs[1]
        )

    def _run_verdict(self) -> Verdict:
        scores, metrics, pairs = self._frames.result()
        return analysis.verdict_statistics(
            self.selection.used,
            scores,
            metrics,
            pairs,
            self.system,
            self.opponent,
            self.options,
            headline=self._headline.result(),
        )

    def _run_agreement(self) -> Agreement:
        scores, _, _ = self._frames.result()
        return analysis.agreement_statistics(self.selection.used, scores, self.options)

    def _run_biases(self, judgments: pd.DataFrame, table: pd.DataFrame | None) -> Biases:
        return analysis.bias_statistics(judgments, table, self.selection, self.options)

    # ------------------------------------------------------------------ collecting them

    @property
    def evidence(self) -> Evidence:
        """What the statistics use: counts and exclusions (CampaignAnalysis.evidence), known at once."""
        return self.selection.evidence

    def headline(self) -> tuple[preference.WinRateResult, pd.DataFrame]:
        """(win rate under the chosen tie policy, the win rate under each policy as a table)."""
        return self._headline.result()

    def verdict(self) -> Verdict:
        return self._verdict.result()

    def agreement(self) -> Agreement:
        return self._agreement.result()

    def versus(self) -> MetricsVersusHumans:
        return self._versus.result()

    def biases(self) -> Biases:
        return self._biases.result()

    def done(self) -> list[str]:
        """The names of the STAGES that are ready."""
        futures = dict(zip(STAGES, (self._verdict, self._agreement, self._versus, self._biases)))
        return [name for name, future in futures.items() if future.done()]

    def result(self) -> CampaignAnalysis:
        """Wait for every stage; the same CampaignAnalysis as `analyze` (computed once, then kept)."""
        if self._result is not None:
            return self._result
        self._result = analysis.finish(
            self.campaign_id,
            self.system,
            self.opponent,
            self.options,
            self.selection,
            verdict=self.verdict(),
            agreeing=self.agreement(),
            versus=self.versus(),
            biases=self.biases(),
            started=self.started,
        )
        return self._result


class FinishedStages:
    """A computed CampaignAnalysis (e.g. read back from disk) behind the same methods as AnalysisStages."""

    def __init__(self, result: CampaignAnalysis) -> None:
        self._result = result
        self.options, self.campaign_id = result.options, result.campaign_id
        self.system, self.opponent = result.system, result.opponent
        self.seconds: dict[str, float] = {}

    @property
    def evidence(self) -> Evidence:
        return self._result.evidence

    def headline(self) -> tuple[preference.WinRateResult, pd.DataFrame]:
        return self._result.verdict.win, self._result.verdict.win_by_policy

    def verdict(self) -> Verdict:
        return self._result.verdict

    def agreement(self) -> Agreement:
        return self._result.agreement

    def versus(self) -> MetricsVersusHumans:
        return self._result.versus_metrics

    def biases(self) -> Biases:
        return self._result.biases

    def done(self) -> list[str]:
        return list(STAGES)

    def result(self) -> CampaignAnalysis:
        return self._result

"""The stages of `analyze` as futures, for a page that draws each statistic as soon as it is ready: the headline
verdict (win rate under each tie policy, sign test) first, in a fraction of a second, then the rest on a small
thread pool (numpy, pandas and the bootstrap's matrix products release the GIL, so two cores work at once).

    stages = AnalysisStages(judgments, scores, metrics, options, campaign_id)   # starts every stage
    # scores and metrics may be loaders (no-argument callables): they are read on the pool while the headline,
    # which needs only the judgments, is computed
    stages.headline()     # (win, win_by_policy): what the Verdict tab shows first
    stages.verdict()      # analysis.Verdict: + criteria, metric table, Bradley-Terry
    stages.agreement()    # analysis.Agreement
    stages.versus()       # analysis.MetricsVersusHumans
    stages.result()       # the CampaignAnalysis that `analyze` returns (analyze is this, run to the end)

Every stage reads its inputs only, so the values are those of running the stages one after another. A stage
waits only on stages submitted before it, so the pool cannot deadlock. No I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from annotations.errors import AnnotationError
from annotations.stats import analysis, paired_metrics, power, preference, quality
from annotations.stats.campaign_analysis import CampaignAnalysis
from annotations.stats.environment import environment


def _frame(value: pd.DataFrame | Callable[[], pd.DataFrame] | None, columns: list[str]) -> pd.DataFrame:
    """A frame as given, loaded by calling it, or an empty frame with `columns`."""
    value = value() if callable(value) else value
    return value if value is not None else pd.DataFrame(columns=columns)


STAGES = ("verdict", "agreement", "metrics versus humans", "annotators")  # what a progress line counts


@dataclass
class Biases:
    """The annotator table and the position, length and speed checks."""

    annotators: pd.DataFrame
    position: pd.DataFrame
    length: quality.LengthBiasResult
    speed: pd.DataFrame


class AnalysisStages:
    """Every statistic of one campaign, started at construction and collected stage by stage."""

    def __init__(
        self,
        judgments: pd.DataFrame,
        scores: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
        metrics: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
        options: analysis.AnalysisOptions | None = None,
        campaign_id: str | None = None,
        workers: int = 2,
    ) -> None:
        self.started = time.perf_counter()
        self.options = options = options or analysis.AnalysisOptions()
        if judgments is None or judgments.empty:
            raise AnnotationError("this campaign has no judgments yet: nothing to analyse")
        if not campaign_id and "campaign_id" in judgments:
            campaign_id = str(judgments["campaign_id"].iloc[0])
        self.campaign_id = campaign_id or ""
        self.system, self.opponent = system, opponent = preference.default_pair(judgments)
        self.seconds: dict[str, float] = {}  # stage -> seconds from the start until it was ready
        # the quality checks decide the evidence only when flagged annotators are left out; otherwise the
        # headline need not wait for them
        table = analysis.annotator_quality(judgments, options.thresholds) if options.exclude_flagged else None
        self.evidence = evidence = analysis.select_evidence(judgments, table, options)
        self._pool = pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analysis")
        submit = self._submit
        self._headline = submit(
            "headline", analysis.headline_statistics, evidence.used, system, opponent, options
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

    # ------------------------------------------------------------------ the stages (each waits on earlier ones)

    def _frames_and_pairs(self, scores: Future, metrics: Future):
        scores, metrics = analysis.evidence_frames(scores.result(), metrics.result(), self.evidence.used)
        return scores, metrics, paired_metrics.metric_pairs(metrics, self.system, self.opponent)

    def _run_versus(self) -> analysis.MetricsVersusHumans:
        scores, metrics, pairs = self._frames.result()
        used, o = self.evidence.used, self.options
        return analysis.metrics_versus_humans(
            scores, metrics, used, self.system, self.opponent, o, pairs[0] - pairs[1]
        )

    def _run_verdict(self) -> analysis.Verdict:
        scores, metrics, pairs = self._frames.result()
        return analysis.verdict_statistics(
            self.evidence.used, scores, metrics, pairs, self.system, self.opponent, self.options,
            headline=self._headline.result(),
        )  # fmt: skip

    def _run_agreement(self) -> analysis.Agreement:
        scores, _, _ = self._frames.result()
        return analysis.agreement_statistics(self.evidence.used, scores, self.options)

    def _run_biases(self, judgments: pd.DataFrame, table: pd.DataFrame | None) -> Biases:
        annotators = (
            table if table is not None else analysis.annotator_quality(judgments, self.options.thresholds)
        )
        annotators = annotators.assign(excluded=annotators["annotator_id"].isin(self.evidence.excluded))
        kept, th = self.evidence.kept, self.options.thresholds
        return Biases(
            annotators=annotators,
            position=quality.position_bias(kept),
            length=quality.length_bias(kept),
            speed=quality.speed(kept, th.min_seconds, th.max_words_per_second),
        )

    # ------------------------------------------------------------------ collecting them

    @property
    def used(self) -> dict:
        """What the statistics use: counts and exclusions (CampaignAnalysis.used)."""
        return self.evidence.record

    def headline(self) -> tuple[preference.WinRateResult, pd.DataFrame]:
        """(win rate under the chosen tie policy, the win rate under each policy as a table)."""
        return self._headline.result()

    def verdict(self) -> analysis.Verdict:
        return self._verdict.result()

    def agreement(self) -> analysis.Agreement:
        return self._agreement.result()

    def versus(self) -> analysis.MetricsVersusHumans:
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
        verdict, agreeing, versus, biases = self.verdict(), self.agreement(), self.versus(), self.biases()
        o = self.options
        plan = power.more_judgments(
            verdict.win, agreeing.preference_alpha, o.target_half_width, o.detect_difference,
            significance=1 - o.confidence,
        )  # fmt: skip
        self._result = CampaignAnalysis(
            campaign_id=self.campaign_id, system=self.system, opponent=self.opponent, options=o,
            used=self.evidence.record, win=verdict.win, win_by_policy=verdict.win_by_policy,
            bradley_terry=verdict.bradley_terry, criteria=verdict.criteria, metric_table=verdict.metric_table,
            agreement=agreeing.table, leave_one_out=agreeing.leave_one_out, cohen=agreeing.cohen,
            fleiss=agreeing.fleiss, annotators=biases.annotators, position=biases.position, length=biases.length,
            speed=biases.speed, correlations=versus.correlations,
            preference_correlations=versus.preference_correlations, pairwise_accuracy=versus.pairwise_accuracy,
            power=plan, environment=environment(), seconds=time.perf_counter() - self.started,
            used_judgment_ids=self.evidence.used["judgment_id"].to_numpy(), human_metric_means=versus.means,
            agreement_plan=agreeing.plan, raw_agreement=agreeing.raw,
        )  # fmt: skip
        return self._result


class FinishedStages:
    """A computed CampaignAnalysis (e.g. read back from disk) behind the same methods as AnalysisStages."""

    def __init__(self, result: CampaignAnalysis) -> None:
        self._result = result
        self.options, self.campaign_id = result.options, result.campaign_id
        self.system, self.opponent = result.system, result.opponent
        self.seconds: dict[str, float] = {}

    @property
    def used(self) -> dict:
        return self._result.used

    def headline(self) -> tuple[preference.WinRateResult, pd.DataFrame]:
        return self._result.win, self._result.win_by_policy

    def verdict(self) -> analysis.Verdict:
        a = self._result
        return analysis.Verdict(a.win, a.win_by_policy, a.bradley_terry, a.criteria, a.metric_table)

    def agreement(self) -> analysis.Agreement:
        a = self._result
        return analysis.Agreement(
            a.agreement, a.leave_one_out, a.cohen, a.fleiss, None, a.agreement_plan, a.raw_agreement
        )

    def versus(self) -> analysis.MetricsVersusHumans:
        a = self._result
        return analysis.MetricsVersusHumans(
            a.correlations, a.preference_correlations, a.pairwise_accuracy, a.human_metric_means
        )

    def biases(self) -> Biases:
        a = self._result
        return Biases(a.annotators, a.position, a.length, a.speed)

    def done(self) -> list[str]:
        return list(STAGES)

    def result(self) -> CampaignAnalysis:
        return self._result

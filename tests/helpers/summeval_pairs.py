"""SummEval's expert ratings as pairwise campaigns with an automatic score as the proxy, for the
prediction-powered test on real human data and bench/ppi_summeval.py.

SummEval (Fabbri et al., 2021; `../shared/data/summeval`, see its SOURCE.md): 100 CNN/DailyMail articles, 16
systems, each summary rated 1-5 on coherence, consistency, fluency and relevance (mean of three experts). Each
pair of systems is one campaign of 100 items (the articles): the human label of an item is 1 when the experts
rated system A's summary higher (the mean of the four ratings, or one of them), 1/2 when equal, 0 when lower.
The proxy is ROUGE-1 F (Lin, 2004; best of the 11 references, Porter-stemmed, the same floats as
`ft_core.metrics.score`'s `rouge1`) turned into a preference: 1/2 + tanh(difference / its sd over the pair's
items) / 2, which uses no human label.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "summeval"
RATINGS = ("coherence", "consistency", "fluency", "relevance")


def rouge1_best(summaries: list[str], references: list[list[str]]) -> np.ndarray:
    """ROUGE-1 F against the best reference, with ft_core's cached ROUGE tokens (only the unigram part, so a
    test can afford all 1,600 summaries)."""
    from rouge_score.rouge_scorer import _score_ngrams

    from ft_core.metrics.rouge_fast import pair_scorer

    scorer = pair_scorer(use_stemmer=True, language="en")
    return np.array(
        [
            max(_score_ngrams(scorer.ngrams(r).unigrams, scorer.ngrams(s).unigrams).fmeasure for r in refs)
            for s, refs in zip(summaries, references)
        ]
    )


def load_summeval(data: Path = DATA, references: int = 11) -> pd.DataFrame:
    """One row per summary: doc_id, system, the four ratings, `overall` (their mean) and `rouge1` (best of the
    first `references` references; fewer is faster)."""
    documents = {d["doc_id"]: d for d in map(json.loads, (data / "documents.jsonl").read_text().splitlines())}
    frame = pd.DataFrame([json.loads(line) for line in (data / "summaries.jsonl").read_text().splitlines()])
    frame["overall"] = frame[list(RATINGS)].mean(axis=1)
    frame["rouge1"] = rouge1_best(
        list(frame["summary"]), [documents[d]["references"][:references] for d in frame["doc_id"]]
    )
    return frame


@dataclass
class PairCampaign:
    system_a: str
    system_b: str
    human: np.ndarray  # per article: 1 A rated higher, 1/2 equal, 0 lower
    proxy: np.ndarray  # per article: the automatic score's preference for A, in (0, 1)

    @property
    def full_data_value(self) -> float:
        """The win rate of A over all 100 articles: what the subsets estimate."""
        return float(self.human.mean())


def pair_campaigns(frame: pd.DataFrame, rating: str = "overall", score: str = "rouge1") -> list[PairCampaign]:
    """Every pair of systems as a campaign over the articles both summarized."""
    human = frame.pivot(index="doc_id", columns="system", values=rating)
    automatic = frame.pivot(index="doc_id", columns="system", values=score)
    campaigns = []
    for a, b in itertools.combinations(sorted(human.columns), 2):
        gap = (human[a] - human[b]).to_numpy()
        difference = (automatic[a] - automatic[b]).to_numpy()
        spread = difference.std() or 1.0
        campaigns.append(PairCampaign(a, b, np.sign(gap) / 2 + 0.5, 0.5 + np.tanh(difference / spread) / 2))
    return campaigns

"""The ranking of several systems: strengths recovered from simulated judgments with known strengths, the MLE
checked against a hand maximisation of the Bradley-Terry likelihood with scipy (choix is not installed), the
head-to-head win rates against plain counts, and the answer to "is X better than Y"."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from annotations.errors import AnnotationError
from annotations.stats.ranking import rank_systems

TRUTH = {"base": 0.0, "sft": 0.8, "dpo": 1.3, "other": 0.3}


def simulated(truth: dict[str, float], n: int = 4000, seed: int = 0, ties: float = 0.1) -> pd.DataFrame:
    """n judgments of random pairs, three per item; a share `ties` of them ties, the rest drawn from BT."""
    rng = np.random.default_rng(seed)
    names = np.array(list(truth))
    strength = np.array(list(truth.values()))
    pairs = np.array([rng.choice(len(names), 2, replace=False) for _ in range(n)])
    p_left = 1 / (1 + np.exp(-(strength[pairs[:, 0]] - strength[pairs[:, 1]])))
    left, right = names[pairs[:, 0]], names[pairs[:, 1]]
    winner = np.where(rng.random(n) < p_left, left, right).astype(object)
    winner[rng.random(n) < ties] = "tie"
    return pd.DataFrame(
        {
            "item_id": [f"i{i // 3}" for i in range(n)],
            "shown_left": left,
            "shown_right": right,
            "winner": winner,
        }
    )


def hand_mle(j: pd.DataFrame, systems: list[str]) -> dict[str, float]:
    """Bradley-Terry log-likelihood, ties half a win each way, maximised by scipy (first system at 0)."""
    index = {s: i for i, s in enumerate(systems)}
    li = j["shown_left"].map(index).to_numpy()
    ri = j["shown_right"].map(index).to_numpy()
    left_score = np.where(
        j["winner"] == j["shown_left"], 1.0, np.where(j["winner"] == j["shown_right"], 0, 0.5)
    )

    def negative_log_likelihood(free: np.ndarray) -> float:
        s = np.concatenate([[0.0], free])
        d = s[li] - s[ri]
        return -np.sum(left_score * -np.logaddexp(0, -d) + (1 - left_score) * -np.logaddexp(0, d))

    fit = minimize(negative_log_likelihood, np.zeros(len(systems) - 1), method="BFGS", options={"gtol": 1e-9})
    return dict(zip(systems, np.concatenate([[0.0], fit.x])))


def test_ranking_matches_a_hand_mle_with_ties_as_half_wins():
    j = simulated(TRUTH, n=1500, ties=0.2)
    ranking = rank_systems(j, n_boot=0)
    table = ranking.table.set_index("system")
    reference = ranking.bradley_terry.reference
    hand = hand_mle(j, [reference, *[s for s in TRUTH if s != reference]])
    for system in TRUTH:
        assert table.loc[system, "strength"] == pytest.approx(hand[system], abs=1e-5)


def test_ranking_recovers_known_strengths_within_their_intervals():
    # no ties: ties drawn regardless of strength would pull every strength toward the others
    ranking = rank_systems(simulated(TRUTH, ties=0.0), n_boot=300)
    table = ranking.table.set_index("system")
    reference = ranking.bradley_terry.reference
    for system, true_strength in TRUTH.items():
        relative = true_strength - TRUTH[reference]
        assert table.loc[system, "strength"] == pytest.approx(relative, abs=0.15)
        if system != reference:
            assert table.loc[system, "ci_low"] < relative < table.loc[system, "ci_high"]
    assert ranking.systems == sorted(TRUTH, key=TRUTH.get, reverse=True)


def test_win_rate_matrix_counts_each_pair_head_to_head_with_ties_half():
    j = simulated(TRUTH, n=1200)
    ranking = rank_systems(j, n_boot=0)
    matrix = ranking.win_rate_matrix()
    assert list(matrix.index) == ranking.systems
    pair = j[j.shown_left.isin(["dpo", "sft"]) & j.shown_right.isin(["dpo", "sft"])]
    expected = ((pair.winner == "dpo") + 0.5 * (pair.winner == "tie")).mean()
    assert matrix.loc["dpo", "sft"] == pytest.approx(expected)
    assert matrix.loc["dpo", "sft"] + matrix.loc["sft", "dpo"] == pytest.approx(1.0)
    assert np.isnan(matrix.loc["dpo", "dpo"])
    rows = ranking.win_rates.set_index(["system", "opponent"])
    assert rows.loc[("dpo", "sft"), "n"] == len(pair)
    assert rows.loc[("dpo", "sft"), "ci_low"] < expected < rows.loc[("dpo", "sft"), "ci_high"]


def test_compare_answers_whether_preference_tuning_helped_beyond_sft():
    ranking = rank_systems(simulated(TRUTH), n_boot=300)
    helped = ranking.compare("dpo", "sft")
    assert helped.verdict == "better"
    assert helped.ci_low > 0
    assert helped.p_beats == pytest.approx(1 / (1 + np.exp(-helped.strength_difference)))
    assert helped.sentence.startswith("Yes: dpo is better than sft")
    assert ranking.compare("sft", "dpo").verdict == "worse"
    # equal true strengths: the interval straddles zero
    same = rank_systems(simulated({"sft": 0.5, "dpo": 0.5, "base": 0.0}, n=900), n_boot=300)
    assert same.compare("dpo", "sft").verdict == "not shown"
    assert same.compare("dpo", "sft").sentence.startswith("Not shown")


def test_ranking_refuses_bad_input_with_one_line_errors():
    with pytest.raises(AnnotationError, match="no judgments"):
        rank_systems(pd.DataFrame(columns=["item_id", "shown_left", "shown_right", "winner"]))
    apart = pd.DataFrame(
        {
            "item_id": ["i1", "i2"],
            "shown_left": ["a", "c"],
            "shown_right": ["b", "d"],
            "winner": ["a", "d"],
        }
    )
    with pytest.raises(AnnotationError, match="separate groups"):
        rank_systems(apart, n_boot=0)
    ranking = rank_systems(simulated(TRUTH, n=300), n_boot=0)
    with pytest.raises(AnnotationError, match="not judged"):
        ranking.compare("dpo", "gpt-9")
    assert ranking.compare("dpo", "sft").verdict == "not shown"  # no resamples: no interval, no claim

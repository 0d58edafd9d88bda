"""The results page's certainty block from the frames: item labels (the unit is the item), the PPI interval
with a stored metric as the proxy, and the sequential decision."""

import numpy as np
import pandas as pd
import pytest
from helpers.synthetic import make_campaign

from annotations.stats.certainty import (
    certainty,
    item_labels,
    judge_preference,
    metric_preference,
    proxy_choices,
    proxy_metrics,
)
from annotations.stats.ppi import StatsInputError, ppi_mean
from annotations.stats.sequential import ppi_confidence_sequence


@pytest.fixture(scope="module")
def campaign():
    return make_campaign(n_items=400, k=3, seed=61)


def test_item_labels_average_each_items_judgments_in_completion_order(campaign):
    j = campaign.judgments
    labels = item_labels(j, "finetuned", "base")
    kept = j[~j["is_gold"] & ~j["is_repeat"]]
    expected = (
        kept.assign(v=np.select([kept["winner"] == "finetuned", kept["winner"] == "base"], [1.0, 0.0], 0.5))
        .groupby("item_id")["v"]
        .mean()
    )
    assert len(labels) == kept["item_id"].nunique()
    assert labels.set_index("item_id")["label"].sort_index().to_numpy() == pytest.approx(expected.to_numpy())
    completed = kept.groupby("item_id")["submitted_at"].max().loc[labels["item_id"]]
    assert completed.is_monotonic_increasing


def _item_labels_by_groupby(judgments, system, opponent):
    """The plain pandas version item_labels replaced (for speed): the reference it must equal."""
    left, right = judgments["shown_left"].astype(str), judgments["shown_right"].astype(str)
    pair = ((left == system) & (right == opponent)) | ((left == opponent) & (right == system))
    rows = judgments[pair & ~judgments["is_gold"].astype(bool) & ~judgments["is_repeat"].astype(bool)]
    winner = rows["winner"].astype(str)
    label = np.where(winner == system, 1.0, np.where(winner == opponent, 0.0, 0.5))
    frame = pd.DataFrame(
        {"item_id": rows["item_id"].astype(str).to_numpy(), "label": label, "at": rows["submitted_at"]}
    )
    per_item = frame.groupby("item_id", sort=False).agg(
        label=("label", "mean"), n_judgments=("label", "size"), completed=("at", "max")
    )
    return per_item.sort_values("completed", kind="stable").reset_index()[["item_id", "label", "n_judgments"]]


def test_item_labels_equal_the_plain_groupby(campaign):
    j = campaign.judgments
    # the same second for many judgments: ties in completion time keep the order the groupby gives them
    coarse = j.assign(submitted_at=j["submitted_at"].dt.floor("10min"))
    for frame in (j, coarse, j.iloc[::-1]):
        for system, opponent in (("finetuned", "base"), ("base", "finetuned")):
            fast, plain = (
                item_labels(frame, system, opponent),
                _item_labels_by_groupby(frame, system, opponent),
            )
            assert fast["item_id"].tolist() == plain["item_id"].tolist()
            assert fast["label"].to_numpy() == pytest.approx(plain["label"].to_numpy(), abs=1e-12)
            assert fast["n_judgments"].tolist() == plain["n_judgments"].tolist()
    assert item_labels(j.iloc[:0], "finetuned", "base").empty


def test_a_tracking_metric_narrows_the_interval_a_useless_one_warns(campaign):
    # humans judged the first 80 items; the metrics cover all 400
    first = sorted(campaign.judgments["item_id"].unique())[:80]
    judged = campaign.judgments[campaign.judgments["item_id"].isin(first)]
    assert proxy_metrics(campaign.metrics) == ["good_metric", "useless_metric"]
    gold = campaign.items.loc[campaign.items["is_gold"], "item_id"]
    good = certainty(judged, campaign.metrics, "good_metric", gold_items=gold)
    assert good.ppi.lam > 0.2 and good.ppi.half_width < good.ppi.human_half_width
    assert good.ppi.n_labelled == good.n_items == len(set(first) - set(gold))
    assert good.ppi.n_unlabelled == 400 - len(first) - len(set(gold) - set(first))  # gold items left out
    assert "worth about" in good.ppi_sentence
    assert good.plan.items_with_proxy < good.plan.items_human_only and good.plan.total_items == 400 - len(
        gold
    )
    useless = certainty(judged, campaign.metrics, "useless_metric")
    assert useless.ppi_sentence.startswith("Warning")
    humans_only = certainty(judged, campaign.metrics, use_proxy=False)
    assert humans_only.ppi is None and humans_only.proxy is None
    # the proxy is the metric's preference for the fine-tune: above 1/2 where it scores higher
    preference = metric_preference(campaign.metrics, "good_metric", "finetuned", "base")
    wide = campaign.metrics[campaign.metrics["metric"] == "good_metric"].pivot(
        index="item_id", columns="system", values="value"
    )
    assert ((preference > 0.5) == (wide["finetuned"] > wide["base"]).loc[preference.index]).all()


def test_decision_follows_the_confidence_sequence():
    clear = make_campaign(n_items=300, advantage=1.5, seed=62)
    result = certainty(clear.judgments, clear.metrics)
    assert result.decision.verdict == "finetune_better" and result.sequence_low > 0.5
    assert result.sequence_low <= result.human_win_rate <= result.sequence_high
    none = make_campaign(n_items=40, advantage=0.0, seed=63)
    early = certainty(none.judgments, None, delta=0.05)
    assert (
        early.decision.verdict == "keep_going"
        and early.ppi is None
        and "No automatic score" in early.ppi_sentence
    )


def test_no_judgments_of_the_pair_is_one_line(campaign):
    with pytest.raises(StatsInputError, match="no human judgments"):
        certainty(campaign.judgments, system="finetuned", opponent="other")
    empty = pd.DataFrame(columns=campaign.metrics.columns)
    assert proxy_metrics(empty) == []


def test_with_a_proxy_the_certainty_carries_the_prediction_powered_sequence(campaign):
    """The judged items that have the proxy, in completion order, against the unjudged items: the same
    sequence as calling ppi_confidence_sequence on them; none without a proxy."""
    first = sorted(campaign.judgments["item_id"].unique())[:80]
    judged = campaign.judgments[campaign.judgments["item_id"].isin(first)]
    result = certainty(judged, campaign.metrics, "good_metric")
    labels = item_labels(judged, "finetuned", "base")
    proxy = metric_preference(campaign.metrics, "good_metric", "finetuned", "base")
    gold = set(judged.loc[judged["is_gold"], "item_id"])
    proxy = proxy[~proxy.index.isin(gold)]
    unjudged = proxy[~proxy.index.isin(labels["item_id"])].to_numpy()
    expected = ppi_confidence_sequence(labels["label"], proxy.loc[labels["item_id"]], unjudged, alpha=0.05)
    sequence = result.ppi_sequence
    assert len(sequence.lower) == result.n_items and sequence.n_unlabelled == result.ppi.n_unlabelled
    assert np.array_equal(sequence.lower, expected.lower) and np.array_equal(sequence.upper, expected.upper)
    assert sequence.lower[-1] <= result.ppi.estimate <= sequence.upper[-1]
    assert certainty(judged, campaign.metrics, use_proxy=False).ppi_sequence is None


def _judge(name, item_ids, p_finetuned, system_a="base", system_b="finetuned"):
    """A judge_verdicts_frame (annotations.campaigns) for one judge: p_system_b from the probability that
    `finetuned` is better."""
    p = np.asarray(p_finetuned, dtype=float)
    return pd.DataFrame(
        {
            "judge": name,
            "item_id": list(item_ids),
            "system_a": system_a,
            "system_b": system_b,
            "p_system_b": p if system_b == "finetuned" else 1 - p,
        }
    )


@pytest.fixture(scope="module")
def humans_on_40(campaign):
    """Humans judged 40 of the 400 items; `truth` is every item's human label from all the judgments."""
    truth = item_labels(campaign.judgments, "finetuned", "base").set_index("item_id")["label"]
    first = sorted(truth.index)[:40]
    return campaign.judgments[campaign.judgments["item_id"].isin(first)], truth


def test_a_judge_equal_to_the_human_label_is_the_default_proxy_and_narrows_the_interval(
    campaign, humans_on_40
):
    judged, truth = humans_on_40
    judges = pd.concat(
        [_judge("oracle", truth.index, truth), _judge("zzz", truth.index, np.full(len(truth), 0.5))]
    )
    assert proxy_choices(campaign.metrics, judges)[:3] == ["judge 'oracle'", "judge 'zzz'", "good_metric"]
    result = certainty(judged, campaign.metrics, judges=judges)  # no proxy named: the first judge
    assert result.proxy == "judge 'oracle'"
    n, big_n = result.ppi.n_labelled, result.ppi.n_unlabelled
    assert n == 40 and big_n == len(truth) - 40
    # lam = cov(y, yhat) / ((1 + n/N) var(yhat)) with yhat = y: about 1 / (1 + n/N) = 0.89, clipped at 1
    # (PPI++, Example 6.1; the judged items' spread against all items' decides which side)
    assert 1 / (1 + n / big_n) - 0.1 < result.ppi.lam <= 1
    assert result.ppi.half_width < 0.6 * result.ppi.human_half_width
    assert result.ppi.estimate == pytest.approx(truth.mean(), abs=0.02)  # the full data's win rate
    assert "worth about" in result.ppi_sentence and "the probability of judge 'oracle'" in result.ppi_sentence
    # the same numbers as ppi_mean on the arrays, computed independently of the frames
    y = truth.loc[sorted(truth.index)[:40]]
    direct = ppi_mean(y.to_numpy(), y.to_numpy(), truth.drop(y.index).to_numpy())
    assert (result.ppi.ci_low, result.ppi.ci_high) == pytest.approx((direct.ci_low, direct.ci_high))


def test_a_judge_is_oriented_like_the_human_label(campaign, humans_on_40):
    judged, truth = humans_on_40
    # the same oracle stored with the systems the other way round: the same proxy for finetuned
    turned = _judge("oracle", truth.index, truth, system_a="finetuned", system_b="base")
    assert judge_preference(turned, "oracle", "finetuned", "base").loc[
        truth.index
    ].to_numpy() == pytest.approx(truth.to_numpy())
    assert judge_preference(turned, "oracle", "base", "finetuned").loc[
        truth.index
    ].to_numpy() == pytest.approx(1 - truth.to_numpy())
    assert judge_preference(turned, "oracle", "finetuned", "other").empty  # the judge compared another pair
    for_base = certainty(judged, judges=turned, system="base", opponent="finetuned")
    assert for_base.ppi.lam > 0.8 and for_base.ppi.estimate == pytest.approx(1 - truth.mean(), abs=0.02)


def test_a_flipped_or_constant_judge_gets_lam_near_0_and_the_warning(campaign, humans_on_40):
    judged, truth = humans_on_40
    for p in (1 - truth, np.full(len(truth), 0.5)):  # prefers what the humans did not; says 1/2 everywhere
        judges = _judge("bad", truth.index, p)
        result = certainty(judged, judges=judges)
        assert result.proxy == "judge 'bad'" and result.ppi.lam == pytest.approx(0, abs=0.05)
        assert result.ppi_sentence.startswith("Warning")
        assert result.ppi.half_width == pytest.approx(result.ppi.human_half_width, rel=0.03)


def test_items_the_judge_did_not_judge_are_left_out_and_said(campaign, humans_on_40):
    judged, truth = humans_on_40
    half = [i for k, i in enumerate(sorted(truth.index)) if k % 2 == 0 or k >= 40]  # 20 of the 40 judged
    result = certainty(judged, judges=_judge("oracle", half, truth.loc[half]))
    assert result.n_items == 40 and result.ppi.n_labelled == 20
    assert (
        "20 human-judged items without the probability of judge 'oracle' are left out" in result.ppi_sentence
    )
    humans_only = certainty(judged, judges=_judge("oracle", truth.index, truth), use_proxy=False)
    assert humans_only.ppi is None and humans_only.proxy is None


def test_an_order_inconsistent_pair_keeps_its_averaged_probability_not_a_tie():
    # orders ab: P(finetuned better) = 0.9, ba: 0.5 (its label names the base): the verdict is a tie, the
    # proxy the mean of the two orders' probabilities (p_b_better, ft_core.judge.pairs), 0.7
    verdicts = _judge("j", ["i1", "i2"], [(0.9 + 0.5) / 2, 0.2]).assign(
        winner=["tie", "base"], consistent=[False, True]
    )
    assert judge_preference(verdicts, "j", "finetuned", "base").to_dict() == pytest.approx(
        {"i1": 0.7, "i2": 0.2}
    )
    missing = verdicts.assign(p_system_b=[None, 0.2])  # no probability: no proxy on that item
    assert list(judge_preference(missing, "j", "finetuned", "base").index) == ["i2"]

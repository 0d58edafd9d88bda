"""The results page's certainty block from the frames: item labels (the unit is the item), the PPI interval
with a stored metric as the proxy, and the sequential decision."""

import numpy as np
import pandas as pd
import pytest
from helpers.synthetic import make_campaign

from annotations.stats.certainty import certainty, item_labels, metric_preference, proxy_metrics
from annotations.stats.ppi import StatsInputError
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

"""The results page's choices read without the frames (annotations/campaigns/facets.py) match what the full
frames say, and one item's frames are exactly that item's rows of the full frames."""

from helpers import synthetic
from helpers.run_folders import write_run_folder

from annotations import campaigns
from annotations.campaigns.facets import campaign_facets, item_frames
from annotations.judging import judgments


def test_facets_and_one_item_match_the_full_frames(con, tmp_path):
    run_dir = write_run_folder(tmp_path / "runs" / "run-f", n_items=10)
    cid = synthetic.fill_store(con, run_dir, n_annotators=3, name="facets")
    # an edited judgment on the item looked at below: one item's frames hold its latest version only
    first = judgments.judgments_frame(con, cid).iloc[0]
    judgments.edit(
        con, first["assignment_id"], first["annotator_id"], int(first["version"]), "tie", comment="edited"
    )
    full = judgments.judgments_frame(con, cid)
    scores = judgments.scores_frame(con, cid)
    metrics = campaigns.metrics_frame(con, cid)
    f = campaign_facets(con, cid)
    assert f.annotators == sorted(full["annotator_id"].unique())
    assert f.criteria == sorted(scores["criterion"].unique())
    assert f.metrics == sorted(metrics["metric"].unique())
    assert sorted(f.items) == sorted(full["item_id"].unique()) and f.n_judgments == len(full)
    assert f.run_dir == str(run_dir)
    item = first["item_id"]
    one = item_frames(con, cid, item)
    assert "edited" in set(one.judgments["comment"].dropna()) and one.judgments["assignment_id"].is_unique
    expect = full[full["item_id"] == item].reset_index(drop=True)
    assert one.judgments.reset_index(drop=True).equals(expect)
    assert one.scores.reset_index(drop=True).equals(scores[scores["item_id"] == item].reset_index(drop=True))
    assert one.metrics.reset_index(drop=True).equals(
        metrics[metrics["item_id"] == item].reset_index(drop=True)
    )
    assert set(one.outputs["item_id"]) == {item} and list(one.item["item_id"]) == [item]

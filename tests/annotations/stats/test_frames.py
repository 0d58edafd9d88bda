"""docs/frames.md names every column of the frames the statistics take, exactly as the real readers return
them from a real store (so the document cannot drift from the code), and a missing column is an error that
says which."""

import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import synthetic
from helpers.run_folders import write_run_folder

from annotations import campaigns, store
from annotations.errors import AnnotationError
from annotations.judging import judgments
from annotations.stats.frames import require_columns

DOC = Path(__file__).resolve().parents[3] / "docs" / "frames.md"
READERS = {
    "judgments": judgments.judgments_frame,
    "scores": judgments.scores_frame,
    "metrics": campaigns.metrics_frame,
    "items": campaigns.items_frame,
    "outputs": campaigns.outputs_frame,
}


def documented_columns() -> dict[str, list[str]]:
    """The first cell of each table row under each '## <frame>' heading of docs/frames.md."""
    sections = re.split(r"^## ", DOC.read_text(), flags=re.M)[1:]
    out = {}
    for section in sections:
        name, _, body = section.partition("\n")
        out[name.strip()] = re.findall(r"^\| `([^`]+)` \|", body, flags=re.M)
    return out


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    con = store.connect(root / "app.duckdb")
    cid = synthetic.fill_store(con, write_run_folder(root / "runs" / "run-1", n_items=8))
    yield {name: read(con, cid) for name, read in READERS.items()}
    con.close()


@pytest.mark.parametrize("name", list(READERS))
def test_the_document_lists_every_column_in_order(frames, name):
    assert not frames[name].empty
    assert documented_columns()[name] == list(frames[name].columns)


def test_a_missing_column_is_named_with_the_ones_there():
    frame = pd.DataFrame({"item_id": ["a"], "winner": ["base"]})
    require_columns(frame, ["item_id", "winner"], "win_rate")
    with pytest.raises(
        AnnotationError,
        match=r"win_rate: column \['shown_left'\] not found; columns are: item_id, winner",
    ):
        require_columns(frame, ["item_id", "shown_left"], "win_rate")

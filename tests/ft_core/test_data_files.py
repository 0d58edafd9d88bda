"""ft_core.data_files: the data sets a form finds, uploads kept by their own name, and a file's quick look
with one-line errors that never name a server path."""

from __future__ import annotations

import json

import pytest

from ft_core import data_files
from ft_core.errors import DataError


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_data_sets_are_found_with_their_splits(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "LICENSE"):
        (tmp_path / "a" / name).write_text('{"x": 1}\n')
    (tmp_path / "empty").mkdir()
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "mine.csv").write_text("x\n1\n")
    found = data_files.find_datasets(tmp_path)
    assert [d.name for d in found] == [
        "a",
        "uploads",
    ]  # uploads last; a folder without data files is no data set
    assert [f.name for f in found[0].files] == ["dev.jsonl", "test.jsonl", "train.jsonl"]
    assert {k: v.name for k, v in found[0].splits.items()} == {
        "train": "train.jsonl",
        "validation": "dev.jsonl",
        "test": "test.jsonl",
    }
    assert data_files.find_datasets(tmp_path / "missing") == []


def test_inspect_gives_rows_count_and_columns(tmp_path):
    _jsonl(tmp_path / "d.jsonl", [{"source": str(i), "target": "t"} for i in range(12)])
    look = data_files.inspect(tmp_path / "d.jsonl")
    assert (look.name, look.n_rows, look.columns, len(look.head)) == ("d.jsonl", 12, ["source", "target"], 5)
    assert data_files.column_problems(look, {"source column": "source", "id column": None}) == []
    (problem,) = data_files.column_problems(look, {"target column": "summary"})
    assert problem == "d.jsonl has no column 'summary' (target column); its columns are: source, target"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("e.jsonl", b"", "e.jsonl is empty"),
        ("e.jsonl", b"  \n\n", "e.jsonl is empty"),
        ("h.csv", b"source,target\n", "h.csv has no rows (only a header)"),
        ("b.jsonl", b"\x00\x01\x02", "b.jsonl is not a text file"),
        ("l.jsonl", b"\xff\xfeab", "l.jsonl is UTF-16 text"),  # a UTF-16 byte-order mark
        ("l1.jsonl", b'{"a": "caf\xe9"}\n', "l1.jsonl is not UTF-8 text"),
        ("j.jsonl", b'{"a": 1}\n{oops\n', "j.jsonl line 2 is not valid JSON"),
        ("p.parquet", b"not parquet", "p.parquet is not a readable Parquet file"),
        ("t.txt", b"hello", "t.txt: expected a .jsonl, .json, .csv or .parquet file"),
    ],
)
def test_bad_files_give_one_line_errors_by_their_own_name(tmp_path, name, content, message):
    (tmp_path / "deep" / "server").mkdir(parents=True)
    path = tmp_path / "deep" / "server" / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        data_files.inspect(path)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert str(tmp_path) not in str(caught.value)
    with pytest.raises(DataError) as uploaded:
        data_files.save_upload(tmp_path / "uploads", name, content)
    assert str(uploaded.value).startswith(message) and str(tmp_path) not in str(uploaded.value)
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_missing_file_is_named_not_pathed(tmp_path):
    with pytest.raises(DataError, match=r"^gone\.jsonl not found$"):
        data_files.inspect(tmp_path / "gone.jsonl")


def test_uploads_keep_their_name_and_never_overwrite(tmp_path):
    folder = tmp_path / "uploads"
    first = data_files.save_upload(folder, "C:\\Users\\me\\my data.jsonl", b'{"a": 1}\n')
    assert first == folder / "my-data.jsonl"
    assert data_files.save_upload(folder, "my data.jsonl", b'{"a": 1}\n') == first  # the same file again
    second = data_files.save_upload(folder, "my data.jsonl", b'{"a": 2}\n')
    assert second == folder / "my-data-2.jsonl" and first.read_bytes() == b'{"a": 1}\n'
    assert [d.name for d in data_files.find_datasets(tmp_path)] == ["uploads"]


def test_hub_ids_are_told_from_paths(tmp_path):
    assert data_files.is_hub_id("allenai/scitldr:train")
    assert not data_files.is_hub_id("data/train.jsonl") and not data_files.is_hub_id("./x")
    assert not data_files.is_hub_id(str(tmp_path)) and not data_files.is_hub_id("")

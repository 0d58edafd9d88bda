"""One data-file reader (ft_core.data_files) for its three callers: training
(`ft_core.data.load_examples`), the Train page's preview (`data_files.inspect`, what the page calls) and
campaign imports (`annotations.campaigns.source_files`). The same odd file reads the same way in each, or
is refused with the same one-line reason: the callers once disagreed on whether a file that starts with
white space and `[` is JSON."""

from __future__ import annotations

import codecs
import json

import pytest

from annotations.campaigns.source_files import SourceFileError, read_table_file
from ft_core import data_files
from ft_core.config import DataConfig
from ft_core.data import load_examples
from ft_core.errors import DataError

ROWS = [
    {"item_id": "a", "system": "base", "output": "x", "source": "Cats sleep.", "target": "Sleep."},
    {"item_id": "b", "system": "finetuned", "output": "y", "source": "Dogs run.", "target": "Run."},
]
ARRAY = json.dumps(ROWS, indent=2).encode()
LINES = "".join(json.dumps(r) + "\n" for r in ROWS).encode()


def _three_readings(path):
    """What each caller makes of the file: the item ids it read, or the error it raised."""
    readings = {}
    for caller, read in {
        "training": lambda: [e.item_id for e in load_examples(str(path), DataConfig(id_column="item_id"))],
        "train page": lambda: data_files.inspect(path).head["item_id"].tolist(),
        "campaign": lambda: read_table_file(path)["item_id"].tolist(),
    }.items():
        try:
            readings[caller] = read()
        except (DataError, SourceFileError) as e:
            readings[caller] = e
    return readings


@pytest.mark.parametrize(
    "name, data",
    [
        ("array.json", ARRAY),
        ("padded-array.json", b"  \n\t\n" + ARRAY),  # white space, then [
        ("bom-array.json", codecs.BOM_UTF8 + b"\n  " + ARRAY),  # a byte-order mark, white space, then [
        ("lines.json", LINES),  # a .json file of JSON Lines
        ("lines.jsonl", b"\n  \n" + LINES),
        (
            "rows.csv",
            b"item_id,system,output,source,target\na,base,x,Cats sleep.,Sleep.\nb,finetuned,y,Dogs "
            b"run.,Run.\n",
        ),
    ],
)
def test_the_three_callers_read_the_same_rows(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    assert _three_readings(path) == {"training": ["a", "b"], "train page": ["a", "b"], "campaign": ["a", "b"]}


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("padded-array.jsonl", b"  \n" + ARRAY, "padded-array.jsonl holds a JSON array; expected JSON Lines"),
        ("utf16.jsonl", LINES.decode().encode("utf-16"), "utf16.jsonl is UTF-16 text"),
        ("latin1.csv", "item_id,source\n1,caf\xe9\n".encode("latin-1"), "latin1.csv is not UTF-8 text"),
        ("broken.json", b' [{"item_id": 1},', "broken.json is not valid JSON"),
        ("numbers.json", b"[1, 2]", "numbers.json item 1 holds a JSON int, not an object"),
        ("broken.jsonl", LINES + b"{oops\n", "broken.jsonl line 3 is not valid JSON"),
    ],
)
def test_the_three_callers_refuse_the_same_file_for_the_same_reason(tmp_path, name, data, reason):
    path = tmp_path / "server-side" / name
    path.parent.mkdir()
    path.write_bytes(data)
    readings = _three_readings(path)
    for caller, reading in readings.items():
        assert isinstance(reading, Exception), (caller, reading)
        message = str(reading)
        # training prefixes the path it was given; the reason itself is the reader's, word for word
        assert message.split("could not be parsed: ")[-1].startswith(reason), (caller, message)
        assert "\n" not in message
        if caller != "training":
            assert "server-side" not in message


def test_the_array_rule_is_one_function():
    assert data_files.holds_json_array("\ufeff \n\t[{}]") and data_files.holds_json_array("[")
    assert not data_files.holds_json_array('{"a": [1]}\n') and not data_files.holds_json_array("")


def test_a_caller_gets_the_same_reasons_as_its_own_error_type():
    """How ft_core.config's config-file reader would use the decoder: its own error type and file kind."""
    from ft_core.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"^c\.yaml is not a text file \(it holds binary data\); expected YAML$"
    ):
        data_files.decode_text("c.yaml", b"\x00\x01\x02", error=ConfigError, expected="YAML")
    with pytest.raises(ConfigError, match=r"^c\.yaml is UTF-16 text"):
        data_files.decode_text("c.yaml", "a: 1\n".encode("utf-16"), error=ConfigError, expected="YAML")
    assert data_files.decode_text("c.yaml", codecs.BOM_UTF8 + b"a: 1\n", error=ConfigError) == "a: 1\n"

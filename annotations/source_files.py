"""Reading the CSV/JSONL files of outputs a campaign is built from, and keeping the uploaded ones.

Every way a file can be wrong (binary, empty, not UTF-8, a header without rows, a JSON array where JSON Lines
are expected, a broken line, a missing column) ends in one `SourceFileError` whose one-line message names the
file by its own name, never by the server path it was saved under. The Campaigns page checks an upload from its
bytes before anything is written (`read_table_bytes`), saves it only when a campaign is created from it
(`save_upload`) and removes it again when that fails (`remove_upload`), so `data/uploads/` holds only the files
of campaigns that exist.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from annotations.errors import CampaignError

TABLE_SUFFIXES = (".csv", ".jsonl", ".json")
REQUIRED_COLUMNS = ("item_id", "system", "output")
_UPLOAD_FOLDER = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}")


class SourceFileError(CampaignError):
    """A file of outputs cannot be read; the message names the file and says what is wrong with it."""


def short(value: Any, limit: int = 60) -> str:
    """`value` as text of at most `limit` characters, on one line (for names quoted in error messages)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(values: Any, limit: int = 8) -> str:
    """The first `limit` values, shortened, comma-separated, with how many more there are."""
    values = list(values)
    shown = ", ".join(short(v, 40) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def decode_text(name: str, data: bytes) -> str:
    """The text of a file holding UTF-8 (a byte-order mark is allowed); SourceFileError naming `name` otherwise."""
    if not data.strip():
        raise SourceFileError(f"{name} is empty")
    sample = data[:4096]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        sample.count(0) > len(sample) // 4
        and max(sample[0::2].count(0), sample[1::2].count(0)) > 0.9 * sample.count(0)
    ):
        raise SourceFileError(f"{name} is UTF-16 text; save it as UTF-8 (CSV UTF-8 in spreadsheet programs)")
    if b"\x00" in data:
        raise SourceFileError(
            f"{name} is not a text file (it holds binary data); expected a CSV or JSONL file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SourceFileError(
            f"{name} is not UTF-8 text (byte 0x{data[e.start]:02x} at position {e.start:,}, perhaps Latin-1 or "
            "Windows-1252); save it as UTF-8"
        ) from None


def parse_jsonl(name: str, text: str) -> list[dict[str, Any]]:
    """One JSON object per non-blank line; SourceFileError naming the first line that is not one."""
    if text.lstrip().startswith("["):
        raise SourceFileError(
            f"{name} holds a JSON array; expected JSON Lines (one JSON object per line, no surrounding [ ])"
        )
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SourceFileError(
                f"{name} line {number:,} is not valid JSON ({e.msg}, column {e.colno})"
            ) from None
        except RecursionError:
            raise SourceFileError(f"{name} line {number:,} is nested too deeply to read") from None
        if not isinstance(row, dict):
            raise SourceFileError(
                f"{name} line {number:,} holds a JSON {type(row).__name__}, not an object with item_id, system, output"
            )
        rows.append(row)
    return rows


def parse_csv(name: str, text: str) -> pd.DataFrame:
    """The rows of a CSV with a header line; ids, systems and outputs stay text, metric columns become numbers."""
    try:
        return pd.read_csv(
            io.StringIO(text),
            dtype={"item_id": str, "system": str, "output": str},
            keep_default_na=False,
            na_values=[""],
        )
    except pd.errors.EmptyDataError:
        raise SourceFileError(f"{name} has no header line and no rows") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as e:
        reason = short(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, 160)
        raise SourceFileError(f"{name} is not a valid CSV file: {reason}") from None


def read_table_bytes(name: str, data: bytes) -> pd.DataFrame:
    """The rows of a CSV/JSONL of outputs (`item_id`, `system`, `output` as text; other columns as given).

    `name` is the file's own name: it picks the format by its ending and is the only name messages use.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise SourceFileError(f"{name}: expected a .csv or .jsonl file")
    text = decode_text(name, data)
    table = parse_csv(name, text) if suffix == ".csv" else pd.DataFrame(parse_jsonl(name, text))
    if table.empty:
        header = f" (only a header: {listing(map(str, table.columns))})" if len(table.columns) else ""
        raise SourceFileError(f"{name} is empty: it has no rows{header}")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise SourceFileError(
            f"{name} lacks {'column' if len(missing) == 1 else 'columns'} {', '.join(missing)}; it needs item_id, "
            f"system, output; its columns are: {listing(map(str, table.columns))}"
        )
    table["item_id"] = table["item_id"].astype(str)
    table["output"] = table["output"].fillna("").astype(str)
    return table


def read_table_file(path: str | Path) -> pd.DataFrame:
    """`read_table_bytes` of a local file (messages name it by its file name)."""
    path = Path(path)
    if not path.is_file():
        raise SourceFileError(f"{path.name} not found")
    return read_table_bytes(path.name, path.read_bytes())


def table_systems(table: pd.DataFrame) -> list[str]:
    """The systems named in a table of outputs, sorted."""
    return sorted(table["system"].dropna().astype(str).unique())


def save_upload(folder: str | Path, name: str, data: bytes) -> Path:
    """Write an uploaded file as `folder/<time>-<random>/<its own name>`, so messages can name it as uploaded."""
    own_name = "".join(c for c in Path(name.replace("\\", "/")).name if c.isprintable()).strip()
    if own_name in ("", ".", ".."):
        raise SourceFileError("the uploaded file has no usable name")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = Path(folder) / f"{stamp}-{secrets.token_hex(4)}" / own_name
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    return target


def remove_upload(path: str | Path) -> None:
    """Delete a file written by `save_upload`, and its folder; any other path is left alone."""
    path = Path(path)
    if _UPLOAD_FOLDER.fullmatch(path.parent.name):
        shutil.rmtree(path.parent, ignore_errors=True)

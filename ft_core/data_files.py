"""The data files a training form offers, and a quick look at one of them.

- `find_datasets(root)`: the data sets under a data folder (default `../shared/data`, `FT_DATA_DIR` moves it):
  each
  sub-folder holding `.jsonl`/`.json`/`.csv`/`.parquet` files, with its files and which of them look like the
  train / validation / test splits.
- The one reader of data files (`read_frame`, `read_records`, `decode_text`, `parse_json_rows`): JSON Lines,
  JSON, CSV and Parquet, UTF-8 with or without a byte-order mark, one rule for a JSON array
  (`holds_json_array`), and one-line errors that name a file by its own name, never by a server path. Training
  (`ft_core.data`), the Train page's preview (`inspect`) and campaign imports
  (`annotations.campaigns.source_files`) all read through it; a caller may have its own error type raised.
- `save_upload(folder, name, data)` checks an uploaded data file and keeps it under the uploads folder (by its
  own name, so it is listed again later; or in a folder of its own, which `remove_upload` takes away again).
- `inspect(location)`: the first rows, the row count and the columns of a local file, or a `DataError` saying
  why it cannot be used (missing, empty, unreadable); `column_problems` names columns a config asks for that
  the file does not have. A hub id (`name[:split]`) cannot be looked at offline; `is_hub_id` tells it apart.

No torch, no transformers: the app and `annotations` import this module (pandas and `ft_core.errors` only).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ft_core.errors import DataError

DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
UPLOADS = "uploads"  # the folder of uploaded files under the data folder
_SPLITS = {
    "train": ("train", "training"),
    "validation": ("dev", "validation", "valid", "val"),
    "test": ("test", "eval"),
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_UPLOAD_FOLDER = re.compile(
    r"\d{8}-\d{6}-[0-9a-f]{8}"
)  # the folder of one upload kept in a folder of its own


def data_root() -> Path:
    """Where the app looks for data sets: `$FT_DATA_DIR`, default `../shared/data` beside the project."""
    env = os.environ.get("FT_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class Dataset:
    """A folder of data files: its name (the folder's), its files, and the files that look like each split."""

    name: str
    folder: Path
    files: list[Path]
    splits: dict[str, Path] = field(default_factory=dict)  # 'train' | 'validation' | 'test' -> file


def files_in(folder: Path) -> list[Path]:
    """The data files directly in `folder`, by name (none when it is missing)."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [
        p for p in entries if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not p.name.startswith(".")
    ]


def _splits(files: list[Path]) -> dict[str, Path]:
    found = {}
    for split, stems in _SPLITS.items():
        match = next((f for f in files if f.stem.lower() in stems), None)
        if match is not None:
            found[split] = match
    return found


def find_datasets(root: str | Path) -> list[Dataset]:
    """The data sets under `root` (folders with data files; the uploads folder comes last), by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = files_in(folder)
        if files and folder.name != UPLOADS:
            found.append(Dataset(folder.name, folder, files, _splits(files)))
    uploads = files_in(root / UPLOADS)
    if uploads:
        found.append(Dataset(UPLOADS, root / UPLOADS, uploads, _splits(uploads)))
    return found


def uploads_folder(root: str | Path) -> Path:
    """Where uploads are kept: `<data folder>/uploads` (`FT_UPLOADS_DIR` moves it, e.g. when the data
    folder is read-only)."""
    env = os.environ.get("FT_UPLOADS_DIR")
    return Path(env) if env else Path(root) / UPLOADS


# --------------------------------------------------------------------------------------------- reading a file
@dataclass
class FileLook:
    """What a form shows of a data file: its first rows, its row count and its columns."""

    name: str  # the file's own name
    head: pd.DataFrame
    n_rows: int
    columns: list[str]


def is_hub_id(location: str) -> bool:
    """A `datasets` hub id (`name[:split]`) rather than a local file: not a data file name, not an existing
    path."""
    text = location.strip()
    path = Path(text).expanduser()
    return bool(text) and not (
        path.suffix.lower() in DATA_SUFFIXES or path.exists() or text.startswith((".", "/", "~"))
    )


class EmptyFileError(DataError):
    """A data file holds nothing but blank space; callers that treat an empty file as "no rows" catch it."""


def decode_text(
    name: str,
    data: bytes,
    error: type[Exception] = DataError,
    expected: str = "JSON Lines, JSON, CSV or Parquet",
) -> str:
    """The text of a file holding UTF-8 (a byte-order mark is allowed), or `error` naming `name` and saying
    why not: empty, UTF-16, binary, another encoding. `error` lets a caller raise its own type (a config
    file's `ConfigError`, a campaign's `SourceFileError`) and `expected` names what a binary file should
    have been; the message is otherwise the same."""
    if not data.strip():
        raise (EmptyFileError if error is DataError else error)(f"{name} is empty")
    sample = data[:4096]
    # UTF-16 without a byte-order mark: most zero bytes on one side (a few bytes of binary are not text at
    # all)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        sample.count(0) >= 4
        and sample.count(0) > len(sample) // 4
        and max(sample[0::2].count(0), sample[1::2].count(0)) > 0.9 * sample.count(0)
    ):
        raise error(f"{name} is UTF-16 text; save it as UTF-8 (CSV UTF-8 in spreadsheet programs)")
    if b"\x00" in data:
        raise error(f"{name} is not a text file (it holds binary data); expected {expected}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(
            f"{name} is not UTF-8 text (byte 0x{data[e.start]:02x} at position {e.start:,}, perhaps Latin-1 "
            "or Windows-1252); save it as UTF-8"
        ) from None


def holds_json_array(text: str) -> bool:
    """The one rule for telling a JSON array from JSON Lines: the first character that is not white space
    (a byte-order mark counts as white space) is `[`. A `.json` file that holds one is read as an array of
    objects, any other `.json` file as JSON Lines; a `.jsonl` file that holds one is refused (JSON Lines
    never start with `[`)."""
    return text.lstrip("\ufeff \t\r\n").startswith("[")


def _objects(name: str, rows: list, where: str, error: type[Exception]) -> list[dict[str, Any]]:
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise error(
                f"{name} {where.format(number=number)} holds a JSON {type(row).__name__}, not an object"
            )
    return rows


def parse_json_rows(name: str, text: str, error: type[Exception] = DataError) -> list[dict[str, Any]]:
    """The objects of a JSON or JSON Lines file's text (`name`'s ending says which it may be, by
    `holds_json_array`), or `error` naming the first place that is not one."""
    if holds_json_array(text):
        if Path(name).suffix.lower() != ".json":
            raise error(
                f"{name} holds a JSON array; expected JSON Lines (one JSON object per line, no surrounding [ "
                "]); name it .json to read it as an array"
            )
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise error(f"{name} is not valid JSON ({e.msg}, line {e.lineno:,} column {e.colno})") from None
        except RecursionError:
            raise error(f"{name} is nested too deeply to read") from None
        return _objects(name, rows, "item {number:,}", error)
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{name} line {number:,} is not valid JSON ({e.msg}, column {e.colno})") from None
        except RecursionError:
            raise error(f"{name} line {number:,} is nested too deeply to read") from None
        if not isinstance(row, dict):
            raise error(f"{name} line {number:,} holds a JSON {type(row).__name__}, not an object")
        rows.append(row)
    return rows


def _csv(name: str, text: str, text_columns: tuple[str, ...], error: type[Exception]) -> pd.DataFrame:
    # Only an empty cell is missing: "NA", "None" or "null" in a text column is text someone wrote.
    try:
        return pd.read_csv(
            io.StringIO(text), dtype=dict.fromkeys(text_columns, str), keep_default_na=False, na_values=[""]
        )
    except pd.errors.EmptyDataError:
        raise error(f"{name} has no header line and no rows") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as e:
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        raise error(f"{name} is not a valid CSV file: {reason}") from None


def _check_suffix(name: str, error: type[Exception]) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise error(f"{name}: expected a .jsonl, .json, .csv or .parquet file")
    return suffix


def read_records(
    name: str, data: bytes, error: type[Exception] = DataError
) -> list[dict[str, Any]] | pd.DataFrame:
    """The rows of a data file's bytes: JSON and JSON Lines as the objects they hold (lists stay lists, a
    missing key stays missing), CSV and Parquet as a frame. `name` (the file's own name) picks the format and
    is the only name the errors use. `read_frame` is the usual entry; `file_bytes` reads a local file."""
    suffix = _check_suffix(name, error)
    if suffix == ".parquet":
        if not data:
            raise (EmptyFileError if error is DataError else error)(f"{name} is empty")
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as e:  # pyarrow raises several types for a file that is not Parquet
            raise error(f"{name} is not a readable Parquet file ({type(e).__name__})") from None
    text = decode_text(name, data, error)
    if suffix == ".csv":
        return _csv(name, text, (), error)
    return parse_json_rows(name, text, error)


def read_frame(
    name: str, data: bytes, text_columns: tuple[str, ...] = (), error: type[Exception] = DataError
) -> pd.DataFrame:
    """The rows of a data file's bytes as a frame (see `read_records`); `text_columns` of a CSV stay text
    (ids such as `007`)."""
    if _check_suffix(name, error) == ".csv":
        return _csv(name, decode_text(name, data, error), text_columns, error)
    rows = read_records(name, data, error)
    return rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)


def file_bytes(path: str | Path, error: type[Exception] = DataError) -> bytes:
    """The bytes of a local data file; `error` naming it by its own name when it is missing or unreadable."""
    path = Path(str(path)).expanduser()
    name = path.name or str(path)
    if not path.is_file():
        raise error(f"{name} not found" if path.name else "no data file chosen")
    try:
        return path.read_bytes()
    except OSError as e:
        raise error(f"{name} cannot be read ({e.strerror or type(e).__name__})") from None


def inspect(location: str | Path, n_head: int = 5) -> FileLook:
    """The first `n_head` rows, the row count and the columns of a local data file; `DataError` when it is
    missing, empty, unreadable or holds no rows."""
    data = file_bytes(location)
    name = Path(str(location)).expanduser().name
    frame = read_frame(name, data)
    if frame.empty:
        raise DataError(f"{name} has no rows" + (" (only a header)" if len(frame.columns) else ""))
    return FileLook(name, frame.head(n_head), len(frame), [str(c) for c in frame.columns])


def column_problems(look: FileLook, wanted: dict[str, str | None]) -> list[str]:
    """One message per wanted column (field label -> column name) the file does not have."""
    return [
        f"{look.name} has no column '{column}' ({what}); its columns are: {', '.join(look.columns)}"
        for what, column in wanted.items()
        if column and column not in look.columns
    ]


# --------------------------------------------------------------------------------------------- uploads
def save_upload(
    folder: str | Path, name: str, data: bytes, own_folder: bool = False, error: type[Exception] = DataError
) -> Path:
    """Check an uploaded data file, then keep it under `folder` by its own name; `error` (naming the file by
    its own name, never by a server path) when it has no usable name, cannot be read or holds no rows.

    By default it is kept as `folder/<its name, made safe>` (a number is added when another file of that name
    with other content is there; the same file again is not copied), so the Train page lists it again. With
    `own_folder` it is kept as `folder/<time>-<random>/<its own name>`, so messages name it as uploaded and
    `remove_upload` can take it away again (a campaign keeps only the files of campaigns that exist)."""
    own = "".join(c for c in Path(name.replace("\\", "/")).name if c.isprintable()).strip()
    stem, suffix = _SAFE_NAME.sub("-", Path(own).stem).strip("-."), Path(own).suffix.lower()
    if own in ("", ".", "..") or not stem:
        raise error("the uploaded file has no usable name")
    frame = read_frame(own, data, error=error)
    if frame.empty:
        raise error(f"{own} has no rows" + (" (only a header)" if len(frame.columns) else ""))
    folder = Path(folder)
    try:
        if own_folder:
            target = folder / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(4)}" / own
            target.parent.mkdir(parents=True)
            target.write_bytes(data)
            return target
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            target = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
            if target.exists() and target.read_bytes() == data:
                return target  # the same file uploaded again
            if not target.exists():
                target.write_bytes(data)
                return target
    except OSError as e:
        raise error(f"{own} could not be kept: the uploads folder is not writable ({e.strerror})") from None
    raise error(f"{own}: too many uploads of that name; rename the file")


def remove_upload(path: str | Path) -> None:
    """Delete a file kept by `save_upload(..., own_folder=True)`, and its folder; any other path is left
    alone."""
    path = Path(path)
    if _UPLOAD_FOLDER.fullmatch(path.parent.name):
        shutil.rmtree(path.parent, ignore_errors=True)

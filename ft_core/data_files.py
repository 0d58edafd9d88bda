"""The data files a training form offers, and a quick look at one of them.

- `find_datasets(root)`: the data sets under a data folder (default `../shared/data`, `FT_DATA_DIR` moves it): each
  sub-folder holding `.jsonl`/`.json`/`.csv`/`.parquet` files, with its files and which of them look like the
  train / validation / test splits.
- `save_upload(folder, name, data)` keeps a file uploaded through the app under the uploads folder, by its own
  name (checked first: an empty, binary or unreadable upload is refused with a one-line `DataError` naming it by
  its own name, never by a server path), so it is listed again later.
- `inspect(location)`: the first rows, the row count and the columns of a local file, or a `DataError` saying
  why it cannot be used (missing, empty, unreadable); `column_problems` names columns a config asks for that the
  file does not have. A hub id (`name[:split]`) cannot be looked at offline; `is_hub_id` tells it apart.

No torch, no transformers: the app imports this module.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

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
    """Where uploads are kept: `<data folder>/uploads` (`FT_UPLOADS_DIR` moves it, e.g. when the data folder is
    read-only)."""
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
    """A `datasets` hub id (`name[:split]`) rather than a local file: not a data file name, not an existing path."""
    text = location.strip()
    path = Path(text).expanduser()
    return bool(text) and not (
        path.suffix.lower() in DATA_SUFFIXES or path.exists() or text.startswith((".", "/", "~"))
    )


def _text(name: str, data: bytes) -> str:
    if not data.strip():
        raise DataError(f"{name} is empty")
    if b"\x00" in data[:4096]:
        raise DataError(f"{name} is not a text file (it holds binary data); expected JSONL, JSON or CSV")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{name} is not UTF-8 text (byte 0x{data[e.start]:02x} at position {e.start:,})"
        ) from None


def _rows_jsonl(name: str, text: str) -> list[dict]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{name} line {number:,} is not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{name} line {number:,} is not a JSON object")
        rows.append(row)
    return rows


def read_frame(name: str, data: bytes) -> pd.DataFrame:
    """The rows of a data file's bytes as a frame; `name` (the file's own name) picks the format and is the only
    name the `DataError`s use."""
    suffix = Path(name).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(f"{name}: expected a .jsonl, .json, .csv or .parquet file")
    if suffix == ".parquet":
        if not data:
            raise DataError(f"{name} is empty")
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as e:  # pyarrow raises several types for a file that is not Parquet
            raise DataError(f"{name} is not a readable Parquet file ({type(e).__name__})") from None
    text = _text(name, data)
    if suffix == ".csv":
        try:
            return pd.read_csv(io.StringIO(text))
        except pd.errors.EmptyDataError:
            raise DataError(f"{name} is empty") from None
        except (pd.errors.ParserError, ValueError) as e:
            raise DataError(
                f"{name} is not a valid CSV file: {str(e).strip().splitlines()[0][:160]}"
            ) from None
    if suffix == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{name} is not valid JSON ({e.msg}, line {e.lineno})") from None
        if not all(isinstance(r, dict) for r in rows):
            raise DataError(f"{name} is a JSON array whose items are not all objects")
        return pd.DataFrame(rows)
    return pd.DataFrame(_rows_jsonl(name, text))


def inspect(location: str | Path, n_head: int = 5) -> FileLook:
    """The first `n_head` rows, the row count and the columns of a local data file; `DataError` when it is
    missing, empty, unreadable or holds no rows."""
    path = Path(str(location)).expanduser()
    name = path.name or str(location)
    if not path.is_file():
        raise DataError(f"{name} not found" if path.name else "no data file chosen")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{name} cannot be read ({e.strerror or type(e).__name__})") from None
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
def save_upload(folder: str | Path, name: str, data: bytes) -> Path:
    """Check an uploaded data file, then keep it as `folder/<its own name>` (a number is added when another
    file of that name with other content is there). Raises `DataError` naming the file by its own name."""
    own = Path(name.replace("\\", "/")).name
    stem, suffix = _SAFE_NAME.sub("-", Path(own).stem).strip("-."), Path(own).suffix.lower()
    if not stem:
        raise DataError("the uploaded file has no usable name")
    frame = read_frame(own, data)
    if frame.empty:
        raise DataError(f"{own} has no rows" + (" (only a header)" if len(frame.columns) else ""))
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            target = folder / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
            if target.exists() and target.read_bytes() == data:
                return target  # the same file uploaded again
            if not target.exists():
                target.write_bytes(data)
                return target
    except OSError as e:
        raise DataError(
            f"{own} could not be kept: the uploads folder is not writable ({e.strerror})"
        ) from None
    raise DataError(f"{own}: too many uploads of that name; rename the file")

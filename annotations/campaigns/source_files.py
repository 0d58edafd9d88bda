"""The CSV/JSONL files of outputs a campaign is built from: read through ft_core.data_files, the one data-file
reader (encodings, the JSON-array rule, one-line errors), with what a campaign adds: which formats it takes,
the `item_id, system, output` columns, and a `SourceFileError` (a `CampaignError`) naming the file by its own
name, never by the server path it was saved under.

The Campaigns page checks an upload from its bytes before anything is written (`read_table_bytes`), keeps it
only when a campaign is created from it (`ft_core.data_files.save_upload(..., own_folder=True)`, the one
`save_upload`) and removes it again when that fails (`ft_core.data_files.remove_upload`), so `data/uploads/`
holds only the files of campaigns that exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from annotations.errors import CampaignError
from ft_core import data_files

TABLE_SUFFIXES = (".csv", ".jsonl", ".json")
REQUIRED_COLUMNS = ("item_id", "system", "output")

__all__ = [
    "REQUIRED_COLUMNS",
    "TABLE_SUFFIXES",
    "SourceFileError",
    "decode_text",
    "listing",
    "parse_jsonl",
    "read_table_bytes",
    "read_table_file",
    "short",
    "table_systems",
]


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
    """The text of a file holding UTF-8 (a byte-order mark is allowed); SourceFileError naming `name`
    otherwise."""
    return data_files.decode_text(name, data, error=SourceFileError)


def parse_jsonl(name: str, text: str) -> list[dict[str, Any]]:
    """The objects of a JSON Lines (or, for a `.json` name, JSON array) text; SourceFileError naming the first
    place that is not one."""
    return data_files.parse_json_rows(name, text, error=SourceFileError)


def read_table_bytes(name: str, data: bytes) -> pd.DataFrame:
    """The rows of a CSV/JSONL/JSON of outputs (`item_id`, `system`, `output` as text; other columns as
    given).

    `name` is the file's own name: it picks the format by its ending and is the only name messages use.
    """
    if Path(name).suffix.lower() not in TABLE_SUFFIXES:
        raise SourceFileError(f"{name}: expected a .csv or .jsonl file (or a .json array)")
    table = data_files.read_frame(name, data, text_columns=REQUIRED_COLUMNS, error=SourceFileError)
    if table.empty:
        header = f" (only a header: {listing(map(str, table.columns))})" if len(table.columns) else ""
        raise SourceFileError(f"{name} is empty: it has no rows{header}")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise SourceFileError(
            f"{name} lacks {'column' if len(missing) == 1 else 'columns'} {', '.join(missing)}; it needs "
            f"item_id, system, output; its columns are: {listing(map(str, table.columns))}"
        )
    table["item_id"] = table["item_id"].astype(str)
    table["output"] = table["output"].fillna("").astype(str)
    return table


def read_table_file(path: str | Path) -> pd.DataFrame:
    """`read_table_bytes` of a local file (messages name it by its file name)."""
    path = Path(path)
    return read_table_bytes(path.name, data_files.file_bytes(path, error=SourceFileError))


def table_systems(table: pd.DataFrame) -> list[str]:
    """The systems named in a table of outputs, sorted."""
    return sorted(table["system"].dropna().astype(str).unique())

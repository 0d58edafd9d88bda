"""The Train page's form pieces: one widget per config field from its own metadata, and the data picker.

`field_widget` draws a `ft_core.config.FieldSpec` with its label and help (the same words `--help` prints);
the data picker offers the data sets found under the data folder (`ft_core.data_files`), files uploaded
through the page (kept in the uploads folder and listed again), or a hub id / local path typed by hand, then
shows the chosen file's first rows and row count and lets the researcher pick the columns from the file's real
columns. Every problem it finds is returned, so the page shows it before Launch and keeps Launch disabled.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from ft_core import data_files
from ft_core.config import FieldSpec
from ft_core.errors import DataError
from pages.plain_text import escape_markdown
from pages.shared import signed_in

DATA_FIELDS = (
    "train_file",
    "validation_file",
    "test_file",
    "source_column",
    "target_column",
    "references_column",
    "id_column",
)
FOUND, UPLOAD, TYPED = "A data set found here", "Upload a file", "Hub id or path"
NONE = ""  # an optional file or column left out
COLUMNS = {  # field -> (what the column is, whether it may be left out)
    "source_column": ("source", False),
    "target_column": ("target", False),
    "references_column": ("references", True),
    "id_column": ("item id", True),
}
_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def widget_text(spec: FieldSpec, value: object) -> object:
    """A config value as its widget holds it (text for floats, optional and list fields)."""
    if spec.annotation in (bool, int) or spec.choices:
        return value
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def field_widget(spec: FieldSpec, where, prefix: str = "cfg_") -> object:
    """The widget of one config field, labelled and explained from the config's own metadata; its key is
    `prefix` + the field's name."""
    key, label, help_ = f"{prefix}{spec.name}", spec.label, spec.help or None
    if spec.choices:
        return where.selectbox(label, spec.choices, key=key, help=help_)
    if spec.annotation is bool:
        return where.checkbox(label, key=key, help=help_)
    if spec.annotation is int:
        return where.number_input(label, step=1, key=key, help=help_)
    if spec.name == "prompt_template":
        return where.text_area(label, key=key, help=help_)
    optional = type(None) in typing.get_args(spec.annotation)
    placeholder = ("all" if spec.name.startswith("max_") else "none") if optional else None
    return where.text_input(label, key=key, help=help_, placeholder=placeholder)


# --------------------------------------------------------------------------------------------- run name
def default_run_name(stem: str, runs_root: Path) -> str:
    """`<data set>-<model>`, with -2, -3, ... when a run folder of that name exists already."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "run"
    for n in range(1, 1000):
        name = stem if n == 1 else f"{stem}-{n}"
        if not (runs_root / name).exists():
            return name
    return stem


def run_name_problem(name: str) -> str | None:
    """Why `name` cannot name a run folder, or None."""
    if not name.strip():
        return "give the run a name"
    if not _RUN_NAME.fullmatch(name):
        return (
            f"the run name '{name}' may hold only letters, digits, '.', '_' and '-' (80 at most), starting "
            "with a letter or digit"
        )
    return None


# --------------------------------------------------------------------------------------------- data picker
@dataclass
class DataChoice:
    """What the picker chose: the config values of DATA_FIELDS, and every problem found with them."""

    values: dict[str, object]
    problems: list[str] = field(default_factory=list)
    dataset: str | None = None


def _keep_upload(folder: Path) -> None:
    """The uploader's callback: check and keep the file, then pick it (as the training file of 'uploads')."""
    upload = st.session_state.get("data_upload")
    if upload is None:
        return
    try:
        kept = data_files.save_upload(folder, upload.name, upload.getvalue())
    except DataError as e:
        st.session_state["upload_error"] = str(e)
        return
    st.session_state.pop("upload_error", None)
    st.session_state["upload_kept"] = upload.name
    st.session_state["data_mode"] = FOUND
    st.session_state["data_set"] = data_files.UPLOADS
    _new_data_set()
    st.session_state["pick_train_file"] = _keep("pick_train_file", kept.name)


def _pick_file(split: str, dataset: data_files.Dataset, label: str, optional: bool) -> str | None:
    """A file of the data set for one split (the split's usual file by default)."""
    key = f"pick_{split}_file"
    names = [f.name for f in dataset.files]
    options = ([NONE] if optional else []) + names
    current = _kept(key, None)
    if current not in options:
        guess = dataset.splits.get(split)
        current = guess.name if guess is not None else (NONE if optional else names[0])
    st.session_state[key] = current
    chosen = _keep(key, st.selectbox(label, options, key=key, format_func=lambda v: v or "(none)"))
    return str(dataset.folder / chosen) if chosen else None


def _kept(key: str, default: object) -> object:
    """A picker widget's value: its state, else the value it last had (Streamlit drops the state of a
    widget that was not drawn in a run, e.g. the columns while "Upload a file" is chosen), else `default`."""
    if key in st.session_state and st.session_state[key] is not None:
        return st.session_state[key]
    return st.session_state.get("picker_kept", {}).get(key, default)


def _keep(key: str, value: object) -> object:
    st.session_state.setdefault("picker_kept", {})[key] = value
    return value


def _column_widget(spec: FieldSpec, columns: list[str] | None, optional: bool) -> str:
    key = f"cfg_{spec.name}"
    current = str(_kept(key, spec.default or NONE) or NONE)
    if not optional and not current:
        current = str(spec.default)  # a required column is never left out
    st.session_state[key] = current
    if columns is None:  # a hub id: no columns to offer
        return _keep(key, st.text_input(spec.label, key=key, help=spec.help))
    options = ([NONE] if optional else []) + columns
    if current not in options:
        options = [*options, current]  # kept (and reported) until another column is picked
    chosen = st.selectbox(
        spec.label,
        options,
        key=key,
        help=spec.help,
        format_func=lambda v: (v or "(none)") if v in columns or not v else f"{v} (not in the file)",
    )
    return _keep(key, chosen)


def chosen_data_set_name() -> str | None:
    """The data set the picker shows (or will show first), for the run name's default before the picker is
    drawn."""
    if _kept("data_mode", FOUND) != FOUND:
        return None
    names = [d.name for d in data_files.find_datasets(data_files.data_root())]
    current = _kept("data_set", None)
    return current if current in names else (names[0] if names else None)


def _new_data_set() -> None:
    """Another data set: its own split files are picked again."""
    for split in ("train", "validation", "test"):
        st.session_state.pop(f"pick_{split}_file", None)
        st.session_state.get("picker_kept", {}).pop(f"pick_{split}_file", None)


def data_picker(specs: dict[str, FieldSpec]) -> DataChoice:
    """Draw the data picker; returns the chosen files and columns and every problem with them."""
    root = data_files.data_root()
    uploads = data_files.uploads_folder(root)
    datasets = {d.name: d for d in data_files.find_datasets(root)}
    if uploads != root / data_files.UPLOADS:
        kept = data_files.files_in(uploads)
        if kept:
            datasets[data_files.UPLOADS] = data_files.Dataset(data_files.UPLOADS, uploads, kept)
    st.session_state.setdefault("data_mode", FOUND if datasets else TYPED)
    mode = st.radio("Data", (FOUND, UPLOAD, TYPED), key="data_mode", horizontal=True)
    values: dict[str, object] = {}
    choice = DataChoice(values)
    if mode == UPLOAD:
        st.file_uploader(
            "A JSONL, JSON, CSV or Parquet file with a source and a target column",
            type=[s.lstrip(".") for s in data_files.DATA_SUFFIXES],
            key="data_upload",
            on_change=signed_in(_keep_upload),  # a callback runs before the page checks the session
            args=(uploads,),
        )
        if st.session_state.get("upload_error"):
            st.error(escape_markdown(st.session_state["upload_error"]))
        choice.problems.append("upload a data file, or pick a data set")
        return choice
    if st.session_state.get("upload_kept"):
        st.success(
            f"Uploaded {escape_markdown(st.session_state.pop('upload_kept'))}; it is listed under uploads."
        )
    if mode == FOUND:
        if not datasets:
            where = (
                "does not exist"
                if not root.is_dir()
                else "holds no data files (.jsonl, .json, .csv, .parquet)"
            )
            st.warning(
                f"No data set found: the data folder {escape_markdown(root)} {where}. Set FT_DATA_DIR to the "
                "folder of your data sets, upload a file, or type a hub id or path."
            )
            choice.problems.append("no data set chosen")
            return choice
        current = _kept("data_set", None)
        st.session_state["data_set"] = current if current in datasets else next(iter(datasets))
        name = st.selectbox(
            "Data set",
            list(datasets),
            key="data_set",
            help=f"the data sets in {root}",
            on_change=signed_in(_new_data_set),
        )
        _keep("data_set", name)
        dataset = datasets[name]
        choice.dataset = name
        c1, c2, c3 = st.columns(3)
        with c1:
            values["train_file"] = _pick_file("train", dataset, specs["train_file"].label, False)
        with c2:
            values["validation_file"] = _pick_file(
                "validation", dataset, specs["validation_file"].label, True
            )
        with c3:
            values["test_file"] = _pick_file("test", dataset, specs["test_file"].label, True)
    else:
        for split in ("train_file", "validation_file", "test_file"):
            key = f"cfg_{split}"
            st.session_state[key] = str(_kept(key, specs[split].default or NONE))
            values[split] = _keep(key, st.text_input(specs[split].label, key=key, help=specs[split].help))
    _inspect_and_columns(values, specs, choice)
    return choice


def _inspect_and_columns(values: dict[str, object], specs: dict[str, FieldSpec], choice: DataChoice) -> None:
    train = str(values.get("train_file") or "").strip()
    look, columns = None, None
    if not train:
        choice.problems.append(f"{specs['train_file'].label}: no file chosen")
    elif data_files.is_hub_id(train):
        st.info(
            f"{escape_markdown(train)} is read as a Hugging Face hub id when the job starts (no preview "
            "here); type the column names below."
        )
    else:
        try:
            look = data_files.inspect(train)
        except DataError as e:
            choice.problems.append(str(e))
        else:
            columns = look.columns
            rows = "row" if look.n_rows == 1 else "rows"
            st.caption(f"{escape_markdown(look.name)}: {look.n_rows:,} {rows}; the first {len(look.head)}:")
            st.dataframe(look.head.astype(str), hide_index=True, height=200)
    cols = st.columns(4)
    for where, (name, (_, optional)) in zip(cols, COLUMNS.items()):
        with where:
            values[name] = _column_widget(specs[name], columns, optional) or None
    wanted = {f"{COLUMNS[n][0]} column": values[n] for n in COLUMNS}
    if look is not None:
        choice.problems += data_files.column_problems(look, wanted)
    for split in ("validation_file", "test_file"):  # the other splits must be usable too
        other = str(values.get(split) or "").strip()
        if not other or data_files.is_hub_id(other):
            continue
        try:
            other_look = data_files.inspect(other)
        except DataError as e:
            choice.problems.append(f"{specs[split].label}: {e}")
        else:
            needed = {k: v for k, v in wanted.items() if k in ("source column", "target column")}
            choice.problems += [
                f"{specs[split].label}: {p}" for p in data_files.column_problems(other_look, needed)
            ]

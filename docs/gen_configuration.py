"""Writes docs/configuration.md from the configs' own field metadata, so the page says what the code does.

Every job config is a dataclass whose fields carry `help`, `label`, `choices`, `advanced`, `group` and `flag`
metadata (`ft_core.config.option`); this script reads them with `dataclasses.fields()` and writes one table
per config. The environment variables are not fields, so they are listed here, in `ENVIRONMENT`;
tests/ci/test_configuration_doc.py fails when the page is stale or when the code reads an `FT_*` variable that
is not listed.

    .venv/bin/python docs/gen_configuration.py            # rewrite docs/configuration.md
    .venv/bin/python docs/gen_configuration.py --check    # exit 1 when docs/configuration.md is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "configuration.md"
sys.path.insert(0, str(ROOT))

from annotations.campaigns import CampaignConfig, Criterion  # noqa: E402
from ft_core.config import (  # noqa: E402
    DecodingSweepConfig,
    DPOTrainConfig,
    GenerateConfig,
    ScoreConfig,
    SweepConfig,
    TrainConfig,
)
from ft_core.judge import JudgeConfig  # noqa: E402

try:  # analyze's options; their home may move inside annotations.stats
    from annotations.stats import AnalysisOptions  # noqa: E402
except ImportError:
    from annotations.stats.analysis import AnalysisOptions  # noqa: E402

# (config class, where it is used, whether its fields are command-line flags of that command)
# A config nested in one of these (a field whose type is a dataclass) gets a section of its own after them.
CONFIGS: list[tuple[type, str, bool]] = [
    (TrainConfig, "Used by `.venv/bin/python -m ft_core train` and the **Train** page.", True),
    (GenerateConfig, "Used by `.venv/bin/python -m ft_core generate`.", True),
    (ScoreConfig, "Used by `.venv/bin/python -m ft_core score`.", True),
    (
        SweepConfig,
        "Used by `.venv/bin/python -m ft_core sweep train`, beside a TrainConfig for the base run.",
        True,
    ),
    (DecodingSweepConfig, "Used by `.venv/bin/python -m ft_core sweep decoding`.", True),
    (JudgeConfig, "Used by `.venv/bin/python -m ft_core judge`.", True),
    (DPOTrainConfig, "Used by `.venv/bin/python -m ft_core dpo`.", True),
    (CampaignConfig, "Used by the **Campaigns** page and `annotations.campaigns.create_campaign`.", False),
    (Criterion, "One entry of `CampaignConfig.criteria`.", False),
    (AnalysisOptions, "Used by `annotations.stats.analyze` and the **Results** page's *What counts*.", False),
]

# name -> (default, what it sets). Read by the app, the jobs or the setup scripts, never by the configs above.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "FT_APP_DB": (
        "`data/app.duckdb`",
        "the store: a DuckDB file, or a PostgreSQL server's `postgresql://` URL (docs/store.md)",
    ),
    "FT_APP_DB_POOL_SIZE": ("10", "PostgreSQL store: connections each app process or command keeps open"),
    "FT_RUNS_DIR": ("`runs/`", "where the app's jobs create their run folders"),
    "FT_DATA_DIR": ("`../shared/data/`", "the data folder whose data sets the Train page offers"),
    "FT_UPLOADS_DIR": ("`<data folder>/uploads`", "where files uploaded on the Train page are kept"),
    "FT_CACHE_DIR": ("`~/.cache/ft_core`", "where the embedded models are converted to (`models/`)"),
    "FT_ADMIN_PASSWORD": (
        "a random one, printed once",
        "the password of the `admin` account the first start creates (a weak one must be changed at first "
        "login)",
    ),
    "FT_TRUST_PROXY": (
        "unset",
        "`1`: believe `X-Forwarded-For` / `-Proto` / `-Host` and `Forwarded` (only behind your own proxy)",
    ),
    "FT_SESSION_IDLE_HOURS": ("12", "a session unused this long ends"),
    "FT_SESSION_MAX_DAYS": ("7", "no session lives longer (also the cookie's Max-Age)"),
    "FT_LOGIN_BACKOFF_SECONDS": ("1", "wait after the first failed login; doubles with each further one"),
    "FT_LOGIN_MAX_BACKOFF_SECONDS": ("60", "the longest back-off"),
    "FT_LOGIN_LOCK_AFTER": (
        "5",
        "failures for one username from one address that lock that address out of it",
    ),
    "FT_LOGIN_LOCK_MINUTES": ("15", "how long a lock lasts (and how long failures are remembered)"),
    "FT_LOGIN_CONCURRENT_HASHES": ("1", "argon2 computations that may run at once in the app"),
    "FT_PASSWORD_MIN_SCORE": ("3", "zxcvbn score (0-4) a new password needs"),
    "FT_BACKUP_DIR": ("`backups/` beside the DuckDB file", "where the app's backups go"),
    "FT_BACKUP_EVERY_MINUTES": ("60", "the app backs up this often; `0` turns the schedule off"),
    "FT_BACKUP_KEEP": (
        "24",
        "scheduled backups kept (the newest); `0` keeps all; backups taken by hand stay",
    ),
    "FT_JOB_GPUS": (
        "`CUDA_VISIBLE_DEVICES`, else `nvidia-smi`",
        'GPU ids jobs may use, e.g. `0,1`; `""` for none',
    ),
    "FT_GPU_BUSY_SHARE": ("0.5", "a GPU whose memory is more than this share in use elsewhere is left alone"),
    "FT_CPU_JOBS": ("1", "jobs that may run at once without a GPU"),
    "FT_JUDGE_CAMPAIGN": (
        "unset",
        "set by the app on an LLM-judge job: the campaign whose pairs it judges (not a setting for users)",
    ),
    "FT_VENV": ("`.venv`", "the virtual environment `.ci/setup` creates or reuses"),
    "FT_TORCH_CUDA": (
        "`cu128`",
        "the CUDA build of torch `.ci/setup` installs where nvidia-smi lists a GPU (`cu126`, `cu128`, ...)",
    ),
    "FT_EXPECT_EXTERNALLY_MANAGED": (
        "unset",
        "set by `.ci/run` when it built the venv from a PEP 668 Python; tests/ci/test_setup.py then checks "
        "it",
    ),
    "FT_TEST_POSTGRES": (
        "unset",
        "tests: the PostgreSQL server the store's tests use (`.ci/run` starts one); unset, they start "
        "their own where PostgreSQL's binaries are installed",
    ),
    "FT_REQUIRE_POSTGRES": (
        "unset",
        "tests: `1` (set by `.ci/run`) fails the PostgreSQL tests where no server can be had, instead of "
        "skipping them",
    ),
    "FT_CORE_INJECT_OOM": (
        "unset",
        "tests only: `<rank>:<step>` makes that training process fail as out of memory",
    ),
}

KNOWN_METADATA = {"help", "label", "advanced", "group", "choices", "flag", "split_commas"}
LONG_DEFAULT = 80  # characters; a longer default (a prompt, instructions) is cut in the table


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _type(f: dataclasses.Field) -> str:
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def _value(value: Any) -> str:
    """A default as a YAML file would write it, with paths inside the checkout's parent made relative."""
    if value is None:
        return "none"
    if dataclasses.is_dataclass(value):
        return getattr(value, "name", type(value).__name__)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and os.path.isabs(value) and value.startswith(str(ROOT.parent)):
        return os.path.relpath(value, ROOT)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _default(f: dataclasses.Field) -> str:
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    elif f.default is dataclasses.MISSING:
        return "**required**"
    else:
        value = f.default
    text = _value(value)
    if len(text) > LONG_DEFAULT:
        return f"`{_cell(text[: LONG_DEFAULT - 1].rstrip())}…` ({len(text):,} characters)"
    return f"`{_cell(text)}`" if text else '`""`'


def _what(f: dataclasses.Field) -> str:
    meta = f.metadata
    parts = []
    if meta.get("label") and meta["label"] != f.name:
        parts.append(f"**{meta['label']}**:")
    parts.append(meta.get("help", "") or "—")
    if meta.get("choices"):
        parts.append("(one of " + ", ".join(f"`{_value(c)}`" for c in meta["choices"]) + ")")
    for key in sorted(set(meta) - KNOWN_METADATA):  # e.g. a range a config declares on the field
        value = meta[key]
        shown = str(value) if type(value).__str__ is not object.__str__ else _value(value)  # Range: "(0, 1)"
        parts.append(f"({key}: `{shown}`)")
    if meta.get("advanced"):
        parts.append("*advanced*")
    return _cell(" ".join(p for p in parts if p))


def _flag(cls: type, f: dataclasses.Field) -> str:
    if dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name]):
        return "—"  # a nested config: its own fields are the keys (`name.key` in a file)
    return "`" + (f.metadata.get("flag") or "--" + f.name.replace("_", "-")) + "`"


def _table(cls: type, fields: list[dataclasses.Field], flags: bool) -> list[str]:
    head = (
        "| key | flag | type | default | what it sets |"
        if flags
        else "| key | type | default | what it sets |"
    )
    rule = "|---|---|---|---|---|" if flags else "|---|---|---|---|"
    rows = [head, rule]
    for f in fields:
        cells = [f"`{f.name}`"] + ([_flag(cls, f)] if flags else [])
        cells += [f"`{_cell(_type(f))}`", _default(f), _what(f)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _nested(cls: type) -> list[tuple[str, type]]:
    """(field name, dataclass) for every field of `cls` that holds a config, or a list of them."""
    found = []
    for name, hint in typing.get_type_hints(cls).items():
        inner = typing.get_args(hint) if typing.get_origin(hint) in (list, tuple) else (hint,)
        found += [(name, t) for t in inner if dataclasses.is_dataclass(t)]
    return found


def _configs() -> list[tuple[type, str, bool]]:
    """CONFIGS, then each config nested in one of them that is not listed itself."""
    configs = list(CONFIGS)
    for cls, _, _ in configs:  # grows while it runs: nested configs' own nested ones come too
        for name, nested in _nested(cls):
            if nested not in [c for c, _, _ in configs]:
                configs.append((nested, f"The `{name}` of `{cls.__name__}`.", False))
    return configs


def _section(cls: type, used_by: str, flags: bool) -> list[str]:
    summary = " ".join((cls.__doc__ or "").split())
    lines = [f"## `{cls.__name__}`", "", f"{used_by} {summary}", ""]
    fields = list(dataclasses.fields(cls))
    groups: dict[str, list[dataclasses.Field]] = {}
    for f in fields:
        groups.setdefault(f.metadata.get("group", ""), []).append(f)
    if len(groups) > 1:
        for group, members in groups.items():
            lines += [f"### {group or 'other'}", "", *_table(cls, members, flags), ""]
    else:
        lines += [*_table(cls, fields, flags), ""]
    return lines


def render() -> str:
    """The whole page."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by docs/gen_configuration.py from the configs' field metadata; do not edit by hand:",
        "     change the field's help in the code, then run `.venv/bin/python docs/gen_configuration.py`. "
        "-->",
        "",
        "Every job takes one typed config. The same object comes from a page's form, a YAML or JSON file",
        "(`--config FILE.yaml`, one key per field), `--set key=value` overrides, or the flags below; it "
        "checks",
        "itself when it is made, so a bad value stops the command with one line `error: ...` naming the "
        "field",
        "before any model loads, and it is written into the run folder's `config.json`. For example:",
        "",
        "```bash",
        ".venv/bin/python -m ft_core train --config train.yaml --set learning_rate=1e-4 --set lora_r=16",
        ".venv/bin/python -m ft_core train --help    # the same fields, with their flags",
        "```",
        "",
        "*advanced* marks fields the forms fold away. Paths are relative to the checkout.",
        "",
        "- " + "\n- ".join(f"[`{cls.__name__}`](#{cls.__name__.lower()})" for cls, _, _ in _configs()),
        "- [Environment variables](#environment-variables)",
        "",
    ]
    for cls, used_by, flags in _configs():
        lines += _section(cls, used_by, flags)
    lines += [
        "## Environment variables",
        "",
        "Read by the app, its jobs and the setup scripts; unset means the default.",
        "",
        "| variable | default | what it sets |",
        "|---|---|---|",
        *(f"| `{name}` | {default} | {_cell(what)} |" for name, (default, what) in ENVIRONMENT.items()),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write docs/configuration.md from the configs' field metadata."
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale; write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(
                "docs/configuration.md is stale: run .venv/bin/python docs/gen_configuration.py",
                file=sys.stderr,
            )
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

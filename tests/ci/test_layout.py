"""`ruff format` owns the layout and no line runs past the limit (110, pyproject.toml) outside a data table
that says so (`# noqa: E501`, or a test file whose embedded JavaScript is marked at its top): a change that
breaks either fails here, as it would in review."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUFF = [sys.executable, "-m", "ruff"]


def test_ruff_format_has_nothing_to_change():
    done = subprocess.run([*RUFF, "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_check_passes_with_the_line_limit_on():
    done = subprocess.run(
        [*RUFF, "check", "--output-format", "concise", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_fmt_skip_only_where_a_table_reads_better():
    """`# fmt: skip` stays only on module-level tables (a literal whose closing bracket starts its line)."""
    misplaced = []
    for path in ROOT.rglob("*.py"):
        if any(part in {".venv", "runs", "data", "node_modules"} for part in path.relative_to(ROOT).parts):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.rstrip().endswith("# fmt: skip") and line.lstrip()[:1] not in ")]}":
                misplaced.append(f"{path.relative_to(ROOT)}:{number}")
    assert misplaced == []

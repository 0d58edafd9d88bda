"""Old import paths keep working, and nothing inside the repository uses them (issue 19, item 5).

A module that moved to its room leaves a shim at its old name (DESIGN.md, "Public interfaces"): a module that
defines nothing and only re-exports its new home, so outside checks never break on a move. Inside the
repository every import names the new home, so a shim can be deleted the day no outside check needs it. A
package's `__init__.py` is its face, not a shim.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("annotations", "ft_core", "jobs", "pages")
SCANNED = (*PACKAGES, "tests", "bench")

# The old names outside checks call (DESIGN.md) and the new homes they must name the very same objects of.
OLD_NAMES = [
    ("annotations.source_files", "read_table_bytes", "annotations.campaigns.source_files"),
    ("annotations.source_files", "SourceFileError", "annotations.campaigns.source_files"),
    ("annotations.stats.bootstrap", "item_weights", "ft_core.resampling"),
    ("annotations.db", "connect", "annotations.store"),
    ("annotations.db", "write", "annotations.store"),
    ("annotations.db", "read_frame", "annotations.store"),
    ("annotations.export", "load_export", "annotations.report"),
    ("annotations.export", "write_export", "annotations.report"),
    ("annotations.export", "interpret", "annotations.report"),
    ("annotations.export", "main_stats", "annotations.report"),
    ("annotations.users", "create_user", "annotations.accounts.users"),
    ("annotations.users", "authenticate", "annotations.accounts.users"),
    ("annotations.users", "User", "annotations.accounts.users"),
    ("annotations.sessions", "start", "annotations.accounts.sessions"),
    ("annotations.logins", "log_in", "annotations.accounts.logins"),
    ("annotations.design", "check_design", "annotations.judging.design"),
    ("annotations.assignment", "next_item", "annotations.judging.assignment"),
    ("annotations.judgments", "submit", "annotations.judging.judgments"),
    ("annotations.backup", "take_backup", "annotations.store.backup"),
    ("annotations.backup_manifest", "read_manifest", "annotations.store.backup_manifest"),
    ("annotations.runs", "train_progress", "annotations.campaigns.runs"),
    ("annotations.runs", "list_runs", "annotations.campaigns.runs"),
    ("annotations.time_left", "estimate", "annotations.campaigns.time_left"),
    ("annotations.agreement", "krippendorff_alpha", "annotations.stats.agreement"),
    ("annotations.correlation", "metric_human_correlation", "annotations.stats.correlation"),
    # the statistics' old paths (pages, the export, the bench and outside checks use them)
    ("annotations.agreement", "AlphaResult", "annotations.stats.agreement"),
    ("annotations.correlation", "correlation_table", "annotations.stats.correlation"),
    ("annotations.correlation", "points_from_means", "annotations.stats.correlation"),
    ("annotations.power", "more_judgments", "annotations.stats.power"),
    ("annotations.analysis", "analyze", "annotations.stats.analysis"),
    ("annotations.analysis", "AnalysisOptions", "annotations.stats.analysis"),
    ("annotations.analysis", "CampaignAnalysis", "annotations.stats.campaign_analysis"),
    ("annotations.stats", "analyze", "annotations.stats.analysis"),
    ("annotations.stats", "AnalysisOptions", "annotations.stats.analysis_options"),
    ("annotations.stats", "win_rate", "annotations.stats.preference"),
    ("annotations.stats", "bradley_terry", "annotations.stats.preference"),
    ("annotations.stats", "TIE_POLICIES", "annotations.stats.preference"),
    ("annotations.stats", "TIE_POLICY_HELP", "annotations.stats.preference"),
    ("annotations.stats", "criterion_differences", "annotations.stats.criteria"),
    ("annotations.stats", "metric_differences", "annotations.stats.paired_metrics"),
    ("annotations.stats", "metric_pairs", "annotations.stats.paired_metrics"),
    ("annotations.stats", "too_fast", "annotations.stats.quality"),
    ("annotations.stats", "QualityThresholds", "annotations.stats.quality"),
    ("annotations.stats", "position_bias", "annotations.stats.quality"),
    ("annotations.stats", "item_weights", "annotations.stats.bootstrap"),
    ("annotations.stats", "bootstrap_totals", "annotations.stats.bootstrap"),
    ("annotations.stats", "wilson_interval", "annotations.stats.intervals"),
    ("annotations.stats", "percentile_interval", "annotations.stats.intervals"),
]


def is_shim(source: str) -> bool:
    """A module that defines nothing: after its docstring, only imports (and `__all__`)."""
    body = ast.parse(source).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    imports = [s for s in body if isinstance(s, (ast.Import, ast.ImportFrom))]
    rest = [
        s
        for s in body
        if s not in imports
        and not (isinstance(s, ast.Assign) and [getattr(t, "id", None) for t in s.targets] == ["__all__"])
    ]
    return bool(imports) and not rest


def shim_modules() -> set[str]:
    """Dotted names of the repository's shims (packages' `__init__.py` excluded)."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name != "__init__.py" and is_shim(path.read_text()):
                found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every module an import may load: `from a import b` gives both a and a.b."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append((node.lineno, node.module))
            names += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return names


def shim_imports(source: str, shims: set[str]) -> list[str]:
    return [f"line {line}: {name}" for line, name in imported_modules(source) if name in shims]


def test_the_shims_are_found_and_the_finder_flags_an_import_through_one():
    shims = shim_modules()
    assert {"annotations.db", "annotations.users", "annotations.assignment", "annotations.judgments"} <= shims
    assert not {"annotations.store.backup", "annotations.accounts.users", "annotations.campaigns"} & shims
    planted = "from annotations import store, users\n\ndef f():\n    import annotations.db\n"
    assert shim_imports(planted, shims) == ["line 1: annotations.users", "line 4: annotations.db"]
    assert (
        shim_imports("from annotations.accounts import users\nfrom annotations import store\n", shims) == []
    )


def test_nothing_inside_the_repository_imports_through_a_shim():
    shims = shim_modules()
    files = [
        ROOT / "streamlit_app.py",
        *(p for folder in SCANNED for p in sorted((ROOT / folder).rglob("*.py"))),
    ]
    offenders = {}
    for path in files:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if name in shims:
            continue  # a shim names its new home
        found = shim_imports(path.read_text(), shims)
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert not offenders, f"import the new home instead of the old name: {offenders}"


@pytest.mark.parametrize(("old", "name", "new"), OLD_NAMES)
def test_an_old_import_path_names_the_same_object(old, name, new):
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_the_old_store_name_still_opens_a_store(tmp_path):
    """DESIGN.md's annotator path starts with `annotations.db.connect(path)`."""
    db = importlib.import_module("annotations.db")
    con = db.connect(tmp_path / "old-name.duckdb")
    assert db.schema_version(con) == max(n for n, _, _ in db.migrations())
    con.close()

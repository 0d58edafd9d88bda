"""Every hint that tells a person to run a command names it as the README's setup gives it:
`.venv/bin/python -m ...` and `.venv/bin/streamlit run ...`, never a bare `python` or `streamlit` (which on
a stock Debian is the system's Python, without our packages). The walk reads every string of pages/,
annotations/, jobs/ and ft_core/ that can reach a person (page text, errors, printed messages); docstrings
and a command-line tool's own name (argparse `prog`, a `usage:` line) are not hints."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from helpers.login_as import login_as

from annotations.accounts import users

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("pages", "annotations", "jobs", "ft_core")
# `python -m x`, `python3 x.py` or `streamlit run` not preceded by a path (`.venv/bin/python` is fine)
BARE = re.compile(r"(?<![\w/.-])(?:python3?\s+(?:-m\s|[\w/.-]+\.py\b)|streamlit\s+run\b)")


def _not_hints(tree: ast.AST) -> set[int]:
    """ids of the nodes that are docstrings or a command-line tool's name (argparse `prog`, first argument
    of a parser factory)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg == "prog":
            skip |= {id(n) for n in ast.walk(node.value)}
        if isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name.lower().endswith("parser"):
                skip |= {id(n) for n in ast.walk(node.args[0])}
    return skip


def bare_command_hints(root: Path = ROOT) -> list[str]:
    """`path:line: text` of every person-facing string that names a bare `python` or `streamlit` command."""
    found = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = _not_hints(tree)
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in skip:
                    continue
                if node.value.lstrip().startswith("usage:"):
                    continue
                if BARE.search(node.value):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value.strip()[:80]}")
    return found


def test_no_page_error_or_message_names_a_bare_python_or_streamlit_command():
    assert bare_command_hints() == []


def test_the_walk_finds_bare_commands_and_leaves_docstrings_and_tool_names(tmp_path):
    """The walk itself, on a made-up package: it would catch what the pages said before (issue 18, item
    10)."""
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "x.py").write_text(
        '"""Docstring: `python -m annotations stats` is fine here."""\n'
        "import argparse\n"
        "argparse.ArgumentParser(prog='python -m annotations users')\n"
        "_parser('python -m annotations stats', 'Print every statistic.')\n"
        "print('usage: python -m ft_core COMMAND')\n"
        "st.code(f'python -m annotations restore {folder}/BACKUP')\n"
        "st.caption('The schedule runs in the app server (`streamlit run`).')\n"
        "st.info('run `python3 bench/demo_end_to_end.py`')\n"
        "st.code('.venv/bin/python -m annotations restore B && .venv/bin/streamlit run streamlit_app.py')\n"
    )
    assert sorted(hit.split(":")[1] for hit in bare_command_hints(tmp_path)) == ["6", "7", "8"]


def test_the_backups_page_and_the_first_start_message_say_the_venv_commands(
    open_page, app_env, researcher, tmp_path, monkeypatch
):
    monkeypatch.setenv("FT_BACKUP_DIR", str(tmp_path / "backups"))
    at = login_as(open_page("backups"), researcher).run()
    restore = at.code[0].value
    assert restore.startswith(".venv/bin/python -m annotations restore ")
    assert "FT_APP_DB=data/restored.duckdb .venv/bin/streamlit run streamlit_app.py" in restore
    from annotations import store

    printed: list[str] = []
    fresh = store.connect(tmp_path / "fresh.duckdb")
    users.ensure_admin(fresh, printer=printed.append)
    fresh.close()
    assert "`.venv/bin/python -m annotations users password --username admin`" in printed[0]

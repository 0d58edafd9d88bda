"""docs/ stays navigable: the index lists every page once, its links lead somewhere, and the architecture page
names every import contract of pyproject.toml and every import it lets through or excuses."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")  # [text](target) or [text](target#anchor)


def _local_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(page.read_text()) if "://" not in target]


def test_the_index_lists_every_page_in_docs_once():
    pages = sorted(
        path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md") if path.name != "index.md"
    )
    index = (DOCS / "index.md").read_text()
    listed = [
        match.group(1) for match in re.finditer(r"^- \[[^\]]+\]\(([^)]+)\): \S", index, flags=re.M)
    ]  # one bullet per page: "- [name.md](name.md): what it holds"
    missing = sorted(set(pages) - set(listed))
    assert not missing, f"add to docs/index.md, one line each: {missing}"
    assert len(listed) == len(set(listed)), "a page is listed twice in docs/index.md"


def test_the_links_of_the_index_and_the_architecture_lead_to_files():
    for name in ("index.md", "architecture.md"):
        for target in _local_links(DOCS / name):
            assert (DOCS / target).exists(), f"docs/{name} links to {target}, which does not exist"


def test_the_architecture_page_mirrors_the_import_contracts():
    """Every contract's id and every `ignore_imports` line (what a rule lets through, today's exceptions)
    appear in docs/architecture.md in backticks: the page a contributor reads is the rule that is checked."""
    architecture = (DOCS / "architecture.md").read_text()
    quoted = set(re.findall(r"`([^`\n]+)`", architecture))
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert contracts, "pyproject.toml has no import contracts"
    for contract in contracts:
        assert contract["id"] in quoted, f"docs/architecture.md does not name the contract {contract['id']}"
        for line in contract.get("ignore_imports", []):
            assert line in quoted, f"docs/architecture.md does not name `{line}` ({contract['id']})"

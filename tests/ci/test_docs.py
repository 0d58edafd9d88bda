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


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, no punctuation but - and _, spaces as -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def test_every_local_link_of_the_readme_and_docs_leads_to_a_file_and_its_heading():
    for page in _pages():
        for match in re.finditer(r"\]\(([^)\s]+)\)", page.read_text()):
            target = match.group(1)
            if "://" in target or target.startswith("mailto:"):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            name = page.relative_to(ROOT)
            assert file.exists(), f"{name} links to {target}, which does not exist"
            assert ROOT in file.parents, f"{name} links outside the repository: {target}"
            if anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", file.read_text(), flags=re.M)
                slugs = {_slug(h) for h in headings}
                assert anchor in slugs, f"{name} links to {target}: no such heading in {path or name}"


def test_the_readme_is_a_guide():
    """What it answers, the two commands, a screenshot, the loop, where to read on; the reference lives in
    docs/."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 170, "the README grew past a guide: move reference to docs/"
    assert re.search(r"!\[[^\]]+\]\(docs/img/[\w-]+\.png\)", readme), "the README shows no screenshot"
    assert "../shared" not in readme, "the README points outside the repository"
    for page in ("docs/tutorial.md", "docs/architecture.md", "docs/configuration.md", "docs/index.md"):
        assert f"]({page}" in readme, f"the README does not link {page}"


def test_commands_in_the_docs_name_the_venv_python():
    """A command a person copies runs from the project's venv (`.venv/bin/python -m ...`), never a bare
    `python` that on a stock Debian is the system's Python without our packages."""
    bare = re.compile(r"(?<![\w/.-])python3? +(?:-m +\w|bench/|docs/)")
    for page in _pages():
        for number, line in enumerate(page.read_text().splitlines(), 1):
            assert not bare.search(line), (
                f"{page.relative_to(ROOT)}:{number}: use .venv/bin/python: {line.strip()}"
            )


def test_screenshots_are_small_and_shown():
    images = sorted((DOCS / "img").glob("*.png"))
    assert images, "docs/img holds no screenshot"
    text = "\n".join(page.read_text() for page in _pages())
    for image in images:
        assert image.stat().st_size < 200_000, (
            f"{image.name} is {image.stat().st_size:,} bytes; keep PNGs < 200 KB"
        )
        assert f"img/{image.name}" in text, f"docs/img/{image.name} is shown on no page"

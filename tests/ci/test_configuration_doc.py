"""docs/configuration.md is what docs/gen_configuration.py makes from the configs' field metadata today,
and it names every `FT_*` environment variable the code reads (and none it no longer reads)."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\bFT_[A-Z0-9_]*[A-Z0-9]\b")  # FT_APP_DB; not a prefix such as FT_LOGIN_
READERS = ("ft_core", "annotations", "jobs", "pages", "streamlit_app.py", ".ci", "deploy")


def _generator():
    spec = importlib.util.spec_from_file_location("gen_configuration", ROOT / "docs" / "gen_configuration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_page_is_what_the_generator_makes_today():
    generator = _generator()
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == generator.render(), (
        "docs/configuration.md is stale: run .venv/bin/python docs/gen_configuration.py"
    )


def test_every_field_of_every_config_has_a_row_with_its_help():
    generator = _generator()
    page = generator.render()
    for cls, _, _ in generator._configs():
        section = page.split(f"\n## `{cls.__name__}`\n", 1)[1].split("\n## ", 1)[0]
        for f in dataclasses.fields(cls):
            row = next((line for line in section.splitlines() if line.startswith(f"| `{f.name}` |")), None)
            assert row is not None, f"{cls.__name__}.{f.name} has no row"
            help_text = f.metadata.get("help", "")
            assert generator._cell(help_text) in row, f"{cls.__name__}.{f.name}: its help is not on the page"


def test_check_mode_fails_on_a_stale_page(tmp_path, monkeypatch, capsys):
    generator = _generator()
    stale = tmp_path / "configuration.md"
    stale.write_text(generator.render().replace("peak learning rate", "a learning rate"))
    monkeypatch.setattr(generator, "PAGE", stale)
    assert generator.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    stale.write_text(generator.render())
    assert generator.main(["--check"]) == 0


def test_the_environment_table_names_every_variable_the_code_reads():
    read: set[str] = set()
    for name in READERS:
        path = ROOT / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if (
                file.suffix in ("", ".py", ".service", ".toml", ".sh", ".conf")
                and "__pycache__" not in file.parts
            ):
                read |= set(VARIABLE.findall(file.read_text(errors="replace")))
    listed = set(_generator().ENVIRONMENT)
    assert not read - listed, f"add to ENVIRONMENT in docs/gen_configuration.py: {sorted(read - listed)}"
    assert not listed - read, f"no code reads these any more: {sorted(listed - read)}"

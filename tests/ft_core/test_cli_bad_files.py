"""`python -m ft_core ... --config FILE` on binary and non-UTF-8 files: one line `error: ...`, exit 1, no
traceback.

Real subprocesses, as a researcher runs them; the same for an outputs file `score` reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BAD_CONFIGS = {
    "binary.yaml": (bytes(range(256)) * 16, "not a text file"),
    "latin1.yaml": ("epochs: 2\nrun_dir: runs/caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "cp1252.yaml": ("prompt_template: \u201c{source}\u201d\n".encode("cp1252"), "not UTF-8 text (byte 0x93"),
    "utf16.yaml": ("epochs: 2\n".encode("utf-16"), "UTF-16"),
}
COMMANDS = {
    "train": ["train"],
    "generate": ["generate"],
    "score": ["score"],
    "sweep train": ["sweep", "train", "--lr", "1e-4", "--r", "8"],
    "sweep decoding": ["sweep", "decoding"],
}


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ft_core", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def _assert_one_line_error(result: subprocess.CompletedProcess, words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("file_name", list(BAD_CONFIGS))
def test_a_bad_config_file_is_one_line(tmp_path, command, file_name):
    data, words = BAD_CONFIGS[file_name]
    path = tmp_path / file_name
    path.write_bytes(data)
    _assert_one_line_error(_run([*COMMANDS[command], "--config", str(path)]), words)


def test_score_on_a_binary_outputs_file_is_one_line(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "base__greedy__seed0.jsonl").write_bytes(bytes(range(256)) * 4)
    result = _run(["score", "--outputs-dir", str(outputs), "--scores-dir", str(tmp_path / "scores")])
    _assert_one_line_error(result, "base__greedy__seed0.jsonl is not valid UTF-8 JSONL")


def test_a_file_read_without_its_own_check_is_still_one_line_fault_injected(tmp_path, monkeypatch, capsys):
    """Fault injection: a command whose reader forgets to check the encoding still ends in one line, exit
    1."""
    from ft_core import __main__ as cli

    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "careless_command.py").write_text(
        "from pathlib import Path\n\ndef main(argv):\n    return "
        "len(Path(argv[0]).read_text(encoding='utf-8'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.COMMANDS, "careless", ("careless_command", "reads a file"))
    assert cli.main(["careless", str(tmp_path / "latin1.txt")]) == 1
    err = capsys.readouterr().err
    assert (
        err == "error: an input file is not UTF-8 text (unexpected end of data at byte 3); save it as UTF-8\n"
    )

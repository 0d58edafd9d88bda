"""The jobs package's place in the layout (DESIGN.md): it calls into the store, never the reverse; it runs
ft_core as processes, so it imports neither torch nor streamlit."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import jobs

ROOT = Path(__file__).resolve().parents[2]


def test_jobs_imports_neither_torch_nor_streamlit():
    modules = [f"jobs.{m.name}" for m in pkgutil.iter_modules(jobs.__path__)]
    assert {"jobs.queue", "jobs.scheduler", "jobs.demo"} <= set(modules)
    code = (
        f"import sys; import {', '.join(modules)}; "
        "print(sorted(m for m in ('torch', 'transformers', 'streamlit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_nothing_in_annotations_imports_jobs():
    importers = []
    for path in sorted((ROOT / "annotations").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(n == "jobs" or n.startswith("jobs.") for n in names):
                importers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert importers == []


def test_jobs_errors_have_a_base_of_their_own():
    """JobError is jobs' own base (issue 19, item 5), no AnnotationError: a page that shows a job's refusal
    catches it by name, and nothing of annotations/ is needed to raise it."""
    from annotations.errors import AnnotationError
    from jobs import queue, scheduler, training
    from jobs.errors import JobError

    assert not issubclass(JobError, AnnotationError)
    assert queue.JobError is scheduler.JobError is training.JobError is JobError
    tree = ast.parse((ROOT / "jobs" / "errors.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]

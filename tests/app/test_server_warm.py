"""The web server imports the researcher pages' heavy modules in the background when it starts
(pages/server.py: warm_imports), so the first click on Results after a start does not wait for them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from pages import server
before = {name: name in sys.modules for name in server.WARM_MODULES}
server.warm_imports().join(timeout=120)
after = {name: name in sys.modules for name in server.WARM_MODULES}
print(json.dumps({"before": before, "after": after}))
"""


def test_the_server_start_imports_the_results_page_modules_in_the_background():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=180, check=True
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert not any(seen["before"].values()), seen[
        "before"
    ]  # importing the server alone does not pay for them
    assert all(seen["after"].values()), seen["after"]

"""The whole app on PostgreSQL, in two app processes at once (issue 24 items 1-2), driven by a real Chromium.

Two `streamlit run streamlit_app.py` processes share one PostgreSQL store (FT_APP_DB=postgresql://..., the
session's throw-away server from helpers.postgres_server) and one runs folder, as docs/deploy.md's template
unit runs them. Two annotators judge on different processes; one process is then killed with SIGKILL, and its
annotator's browser, moved to the other process (what the sticky proxy does when a process stops), is still
logged in (the session lives in the store) and carries on. The store then holds every judgment that was
acknowledged on screen, none twice, and no item beyond k.
"""

from __future__ import annotations

import os
import re
import signal

import pytest
from helpers.browser import settle
from helpers.run_folders import write_run_folder

from annotations import store
from annotations.accounts.users import create_user
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging.judgments import judgments_frame

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_ITEMS, K = 8, 2
WORD = {"zebra": "alpha", "otter": "omega"}
PEOPLE = {"anna": "velvet-harbor-pines-29", "ben": "copper-meadow-lark-41"}


def _judge(page, judged_before: int, count: int) -> int:
    """Judge `count` pairs ("A is better", Submit) on `page`; returns the count shown as judged at the end."""
    for number in range(judged_before + 1, judged_before + count + 1):
        page.get_by_text(f"{number - 1} / {N_ITEMS} judged").wait_for()
        settle(page)
        page.get_by_role("button", name="A is better").click()
        page.get_by_text("Your choice: A is better").wait_for()
        page.get_by_role("button", name="Submit").click()
        page.get_by_text(f"{number} / {N_ITEMS} judged").wait_for()
    return judged_before + count


def test_two_app_processes_on_postgresql_and_a_kill_9_lose_nothing(tmp_path, app, postgres_server, browser):
    url = postgres_server.new_database()
    (tmp_path / "process-2").mkdir()
    apps = [app, type(app)(tmp_path / "process-2")]  # two of the e2e fixture's app processes
    for one in apps:
        one.db_path = url  # FT_APP_DB: the same PostgreSQL store for both
        one.runs_dir = tmp_path / "runs"  # and one runs folder, as the template unit shares it

    con = store.connect(url)
    try:
        run = write_run_folder(
            apps[0].runs_dir / "run-pg",
            n_items=N_ITEMS,
            systems=("zebra", "otter"),
            output_text=lambda system, i: f"Summary {i}, variant {WORD[system]}.",  # no system name in it
        )
        cid = create_campaign(
            con, CampaignConfig(name="pg", run_dir=str(run), system_a="zebra", system_b="otter", k=K)
        )
        for name, password in PEOPLE.items():
            create_user(con, name, password, "annotator")
    finally:
        con.close()

    for one in apps:
        one.start(timeout=90)
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in PEOPLE]
    try:
        pages = []
        for one, context, (name, password) in zip(apps, contexts, PEOPLE.items()):
            page = context.new_page()
            page.set_default_timeout(30_000)
            pages.append(one.login(page, name, password))
        anna, ben = pages
        judged = {"anna": _judge(anna, 0, 3), "ben": _judge(ben, 0, 3)}

        # Process 1 dies without a word; anna's browser goes to process 2 and is still anna, mid-campaign.
        os.kill(apps[0]._process.pid, signal.SIGKILL)
        apps[0]._process.wait(timeout=30)
        apps[0]._process = None
        anna.goto(apps[1].url)
        anna.get_by_text("Logged in as anna").wait_for(timeout=30_000)
        judged["anna"] = _judge(anna, judged["anna"], 2)
        judged["ben"] = _judge(ben, judged["ben"], 2)
        assert "zebra" not in anna.content() and "otter" not in ben.content()  # still blind
    finally:
        for context in contexts:
            context.close()
        for one in apps:
            one.stop()

    con = store.connect(url)
    try:
        frame = judgments_frame(con, cid)
        (annotators,) = con.execute(
            "SELECT count(DISTINCT annotator_id) FROM judgments WHERE campaign_id = ?", [cid]
        ).fetchone()
    finally:
        con.close()
    firsts = frame[frame.version == 1]
    assert len(firsts) == sum(judged.values()) == 10  # every judgment acknowledged on screen is stored
    assert annotators == 2
    assert not firsts.duplicated(["item_id", "annotator_id"]).any()
    assert firsts.groupby("item_id").size().max() <= K
    assert all(re.fullmatch(r"item-\d{3}", item) for item in firsts.item_id)

"""A real Chromium and the app's .streamlit/config.toml (as `streamlit run` reads it with conftest's flags):

- neither an annotator nor a researcher gets the Deploy button or the developer menu (Rerun, Clear cache);
- a page exception (injected: a campaign record whose config is not JSON) shows a generic line, and neither
  the page nor the websocket frames carry a traceback, the exception's type, a server path or the PID;
- two malformed uploads on the Campaigns page give one line naming the file as uploaded, and nothing stays in
  data/uploads/.
Screenshots: screenshots/toolbar-annotator.png, toolbar-researcher.png, page-exception.png, upload-*.png.
"""

from __future__ import annotations

import pytest

from annotations.accounts.users import create_user
from annotations.campaigns import CampaignConfig, create_campaign

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "Vq3-lantern-orbit-77"
GOOD_CSV = "item_id,system,output\n1,base,hello\n1,finetuned,hi\n2,base,a\n2,finetuned,b\n"
DEVELOPER_ITEMS = ("Deploy", "Rerun", "Clear cache", "Developer", "Settings")


def _login(app, page, username: str, password: str) -> None:
    app.login_as_another(page, username, password)


def _toolbar_offers_no_developer_tools(app, page, name: str) -> None:
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0
    page.locator("[data-testid='stMainMenu']").click()
    menu = page.locator("[data-testid='stMainMenuList']")
    menu.wait_for()
    items = menu.inner_text()
    assert "Print" in items and not any(word in items for word in DEVELOPER_ITEMS), items
    app.screenshot(page, f"toolbar-{name}")
    page.keyboard.press("Escape")


def test_no_developer_tools_and_no_traceback_for_anyone(app, browser_page, tmp_path):
    csv = tmp_path / "outputs.csv"
    csv.write_text(GOOD_CSV)

    def work(con):
        cid = create_campaign(con, CampaignConfig(name="broken later", source_file=str(csv), k=1))
        create_user(con, "anna", PASSWORD, "annotator")
        return cid

    cid = app.prepare(work)
    app.start()
    page = browser_page
    _login(app, page, "admin", app.admin_password)
    page.get_by_role("heading", name="Did the fine-tune help?").wait_for()
    _toolbar_offers_no_developer_tools(app, page, "researcher")

    # Two malformed uploads: one line each, naming the file as uploaded; nothing is kept.
    page.get_by_role("link", name="Campaigns", exact=True).first.click()
    page.get_by_test_id("stRadioGroup").get_by_text("A CSV/JSONL file").click()
    uploads = app.db_path.parent / "uploads"
    for name, data, words in (
        ("scan.csv", bytes(range(256)) * 16, "scan.csv is not a text file (it holds binary data)"),
        (
            "excel export.csv",
            "item_id,system,output\n1,base,caf\xe9\n".encode("latin-1"),
            "excel export.csv is not UTF-8 text",
        ),
    ):
        # the new campaign's uploader (a chosen campaign's crowd-study form has one for training items)
        outputs_upload = page.get_by_test_id("stFileUploader").filter(has_text="CSV or JSONL with item_id")
        outputs_upload = outputs_upload.locator("input[type='file']")
        outputs_upload.set_input_files({"name": name, "mimeType": "text/csv", "buffer": data})
        error = page.locator("[data-testid='stAlertContentError']")
        error.filter(has_text=words).wait_for()
        assert error.count() == 1
        text = error.inner_text()
        assert "\n" not in text.strip() and str(tmp_path) not in text and "uploads" not in text
        assert not uploads.exists() or not any(uploads.rglob("*.*"))
        app.screenshot(page, f"upload-{name.split()[0].split('.')[0]}")

    # The annotator: the same toolbar; then the injected fault.
    _login(app, page, "anna", PASSWORD)
    page.get_by_role("heading", name="Annotate").wait_for()
    _toolbar_offers_no_developer_tools(app, page, "annotator")
    app.stop()
    con = app.store()
    con.execute("UPDATE campaigns SET config = '{not json' WHERE campaign_id = ?", [cid])
    con.close()
    app.start()
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
    _login(app, page, "anna", PASSWORD)
    page.locator("[data-testid='stException'], [data-testid='stAlertContentError']").first.wait_for()
    app.screenshot(page, "page-exception")
    shown = page.locator("#root").inner_text()
    assert "encountered an error" in shown
    received = b"".join(f if isinstance(f, bytes) else f.encode() for f in frames)
    # (Streamlit's own session message names the app's main script; nothing about the error may follow it.)
    secrets = (
        "Traceback",
        "JSONDecodeError",
        "json.decoder",
        "Expecting property name",
        'File "',
        "campaigns.py",
    )
    for secret in (*secrets, str(app.db_path.parent)):
        assert secret not in shown, secret
        assert secret.encode() not in received, secret
    assert str(app._process.pid) not in shown
    assert "JSONDecodeError" in app.output()  # the details go to the server's log

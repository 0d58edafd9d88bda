"""The annotate page with AppTest: blind rendering, choice + scores + submit, double submit, skip,
undo/edit."""

from __future__ import annotations

import pytest
from helpers.login_as import login_as

from annotations.accounts import users
from annotations.campaigns import CampaignConfig, campaign_design, create_campaign
from annotations.judging.judgments import judgments_frame, scores_frame


def _all_protos(node) -> list[str]:
    found = []
    if getattr(node, "proto", None) is not None:
        found.append(str(node.proto))
    children = getattr(node, "children", None) or {}
    for child in children.values():
        found.extend(_all_protos(child))
    return found


def _annotate(open_page, user):
    at = open_page("annotate")
    login_as(at, user)
    return at.run()


def _current_token(at) -> str:
    keys = [b.key for b in at.button if b.key and b.key.startswith("choose::")]
    return keys[0].split("::")[1]


@pytest.fixture
def blind_campaign(app_env, tmp_path, run_writer):
    """Outputs that do not name their system, so any system name on the page would be a leak."""
    run = run_writer(
        tmp_path / "runs" / "blind",
        n_items=4,
        output_text=lambda system, i: f"summary {i} written {'first' if system == 'base' else 'second'}",
    )
    return create_campaign(app_env, CampaignConfig(name="blind", run_dir=str(run), k=2))


def test_page_is_blind(open_page, app_env, annotator, blind_campaign):
    at = _annotate(open_page, annotator)
    assert not at.exception
    texts = [t.value for t in at.text]
    assert any(t.startswith("summary") and t.endswith("first") for t in texts)
    assert any(t.startswith("summary") and t.endswith("second") for t in texts)
    rendered = "\n".join(_all_protos(at._tree)).lower()
    state = repr(at.session_state.to_dict()).lower()
    design = campaign_design(app_env, blind_campaign)
    # nothing of the design either: neither its secret nor the annotator's order key
    for secret in (
        "base",
        "finetuned",
        "shown_left",
        "is_gold",
        design.secret,
        design.order_key(annotator.user_id),
    ):
        assert secret not in rendered, secret
        assert secret not in state, secret


def test_choice_scores_and_submit_store_a_de_randomized_judgment(open_page, app_env, annotator, campaign):
    at = _annotate(open_page, annotator)
    token = _current_token(at)
    left = app_env.execute("SELECT shown_left FROM assignments WHERE assignment_id = ?", [token]).fetchone()[
        0
    ]
    at.button(key=f"choose::{token}::A").click().run()
    assert "A is better" in at.caption[0].value
    at.button_group(key=f"score::{token}::fluency::A").set_value(5).run()
    at.button_group(key=f"score::{token}::fluency::B").set_value(2).run()
    at.text_area(key=f"comment::{token}").input("crisper").run()
    at.button(key="submit").click().run()
    assert not at.exception and at.success[0].value == "Saved."
    frame = judgments_frame(app_env, campaign)
    assert len(frame) == 1 and frame.winner.iloc[0] == left and frame.comment.iloc[0] == "crisper"
    scores = scores_frame(app_env, campaign).set_index("system").score
    assert scores[left] == 5 and len(scores) == 2
    assert _current_token(at) != token  # the next pair is up
    assert "1 / " in at.get("progress")[0].proto.text


def test_submit_without_choice_warns(open_page, app_env, annotator, campaign):
    at = _annotate(open_page, annotator)
    at.button(key="submit").click().run()
    assert "Choose A, B" in at.warning[0].value
    assert judgments_frame(app_env, campaign).empty


def test_resubmitting_the_same_pair_stores_one_judgment(open_page, app_env, annotator, campaign):
    from annotations.judging import judgments

    at = _annotate(open_page, annotator)
    token = _current_token(at)
    at.button(key=f"choose::{token}::B").click().run()
    at.button(key="submit").click().run()
    # The browser sends the old form again (double click / resubmit): the store answers with the same
    # judgment.
    again = judgments.submit(app_env, token, annotator.user_id, "B")
    assert not again.created
    assert len(judgments_frame(app_env, campaign)) == 1


def test_skip_then_undo_last_edits_a_new_version(open_page, app_env, annotator, campaign):
    at = _annotate(open_page, annotator)
    skipped = _current_token(at)
    at.button(key="skip").click().run()
    first = _current_token(at)
    assert first != skipped
    at.button(key=f"choose::{first}::A").click().run()
    at.button(key="submit").click().run()
    at.button(key="undo_last").click().run()
    assert "editing an earlier judgment" in at.info[0].value
    form = f"{first}-e1"
    at.button(key=f"choose::{form}::tie").click().run()
    at.button(key="submit").click().run()
    assert "version 2" in at.success[0].value
    frame = judgments_frame(app_env, campaign)
    assert len(frame) == 1 and frame.version.iloc[0] == 2 and frame.winner.iloc[0] == "tie"
    status = app_env.execute("SELECT status FROM assignments WHERE assignment_id = ?", [skipped]).fetchone()[
        0
    ]
    assert status == "skipped"


def test_untrusted_output_is_plain_text(open_page, app_env, annotator, tmp_path, run_writer):
    evil = "<script>alert('x')</script> **bold** [link](http://evil) <img src=x onerror=alert(1)>"
    run = run_writer(tmp_path / "runs" / "evil", n_items=1, output_text=lambda system, i: evil)
    create_campaign(app_env, CampaignConfig(name="evil", run_dir=str(run), k=1))
    at = _annotate(open_page, annotator)
    shown = [t for t in at.text if t.value == evil]
    assert len(shown) == 2  # both sides, through st.text (never Markdown or HTML)
    assert all(evil not in m.value for m in at.markdown)


def test_nothing_left(open_page, app_env, annotator, tmp_path, run_writer):
    run = run_writer(tmp_path / "runs" / "one", n_items=1)
    create_campaign(app_env, CampaignConfig(name="one", run_dir=str(run), k=1))
    other = users.create_user(app_env, "olaf", "maple-drift-cobalt-83", "annotator")
    _annotate(open_page, other).button(key="skip")  # olaf holds the only item
    at = _annotate(open_page, annotator)
    assert "Nothing left" in at.success[0].value


def test_a_comment_over_the_limit_is_said_and_never_cut(open_page, app_env, annotator, campaign):
    """Issue 20, item 13: the box had max_chars, so the browser cut a longer paste to 2,000 characters
    without a word. Now the box takes it, the page says how long it is before anything is sent, Submit
    stores nothing and keeps the text, and the shortened comment is stored whole."""
    at = _annotate(open_page, annotator)
    token = _current_token(at)
    box = at.text_area(key=f"comment::{token}")
    assert box.label == "Comment (optional, at most 2,000 characters)" and box.proto.max_chars == 0
    long = "why " * 625  # 2,500 characters
    box.input(long).run()
    assert "Your comment has 2,499 characters, over the limit of 2,000" in at.warning[0].value  # stripped
    at.button(key=f"choose::{token}::A").click().run()
    at.button(key="submit").click().run()
    assert "the comment has 2,499 characters; the limit is 2,000" in at.error[0].value
    assert judgments_frame(app_env, campaign).empty
    assert at.text_area(key=f"comment::{token}").value == long  # nothing was cut
    at.text_area(key=f"comment::{token}").input(long[:1999]).run()
    assert not at.warning
    at.button(key="submit").click().run()
    assert judgments_frame(app_env, campaign).comment.tolist() == [long[:1999].strip()]


def test_an_account_off_a_campaigns_judges_is_not_served_it(
    open_page, app_env, annotator, researcher, campaign, tmp_path, run_writer
):
    """Issue 20, item 13 through the pages: the researcher lists who may judge on the Campaigns page; an
    annotator off the list sees only the campaigns open to them, and nothing at all when none is."""
    other = users.create_user(app_env, "olaf", "maple-drift-cobalt-83", "annotator")
    page = login_as(open_page("campaigns"), researcher).run()
    page.selectbox[0].set_value(campaign).run()
    page.multiselect(key=f"judges:{campaign}").set_value([other.user_id])  # in a form: sent with its button
    page.button[[b.label for b in page.button].index("Save who may judge")].click().run()
    assert not page.exception and "Only olaf may judge it now" in page.success[0].value
    at = _annotate(open_page, annotator)
    assert "No campaign is open right now" in at.info[0].value and not at.button
    assert _current_token(_annotate(open_page, other))  # olaf is served a pair
    run = run_writer(tmp_path / "runs" / "open", n_items=2)
    create_campaign(app_env, CampaignConfig(name="open one", run_dir=str(run), k=1))
    at = _annotate(open_page, annotator)
    assert _current_token(at) and not at.selectbox  # only the campaign open to all, so no campaign box


def _bordered_boxes(node) -> list:
    found = (
        [node] if getattr(node, "type", None) == "flex_container" and node.proto.flex_container.border else []
    )
    for child in (getattr(node, "children", None) or {}).values():
        found.extend(_bordered_boxes(child))
    return found


def test_long_texts_get_bounded_boxes_and_short_ones_their_own_height(
    open_page, app_env, annotator, run_writer, tmp_path
):
    run = run_writer(
        tmp_path / "runs" / "long",
        n_items=2,
        output_text=lambda s, i: "y" * 20_000 if s == "base" else "short",
    )
    create_campaign(app_env, CampaignConfig(name="long", run_dir=str(run), k=1))
    at = _annotate(open_page, annotator)
    heights = [str(box.proto.height_config).strip() for box in _bordered_boxes(at.main)]
    # source and the two references are short: their content's height; the outputs (one of them 20,000
    # characters) both get the same bounded height, so neither side stands out
    assert len(heights) == 5 and heights[-2:] == ["pixel_height: 420"] * 2, heights
    assert not any("pixel_height" in h for h in heights[:3]), heights


def test_undo_after_the_last_pair_edits_the_last_judgment(
    open_page, app_env, annotator, tmp_path, run_writer
):
    """Judging the last pair shows "nothing left"; U (the undo button) must still reopen that judgment."""
    run = run_writer(tmp_path / "runs" / "two", n_items=2)
    cid = create_campaign(app_env, CampaignConfig(name="two", run_dir=str(run), k=1))
    at = _annotate(open_page, annotator)
    for _ in range(2):
        token = _current_token(at)
        at.button(key=f"choose::{token}::A").click().run()
        at.button(key="submit").click().run()
    assert any("Nothing left" in s.value for s in at.success)
    undo = at.button(key="undo_last")
    assert undo.proto.shortcut.upper() == "U"
    undo.click().run()
    assert "editing an earlier judgment" in at.info[0].value
    form = f"{token}-e1"
    at.button(key=f"choose::{form}::B").click().run()
    at.button(key="submit").click().run()
    assert "version 2" in at.success[0].value
    frame = judgments_frame(app_env, cid).set_index("assignment_id")
    assert frame.loc[token, "version"] == 2 and frame.loc[token, "choice"] == "right"
    assert any("Nothing left" in s.value for s in at.success)  # and back to the end, U still there
    assert at.button(key="undo_last")

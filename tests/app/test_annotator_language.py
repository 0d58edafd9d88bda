"""The annotator's page in the campaign's language (pages/i18n.py): the gettext catalog is complete and
compiled, and the annotate, login and password pages, walked with AppTest through every state an annotator
meets, show no English string in a Portuguese campaign."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po
from helpers.login_as import login_as

from annotations.accounts import users
from annotations.campaigns import (
    DEFAULT_INSTRUCTIONS,
    CampaignConfig,
    create_campaign,
    list_campaigns,
    set_status,
)
from annotations.errors import CampaignError
from pages import i18n

# Identical in English and Portuguese, on purpose: the side letters and the comment's character count.
SAME_IN_BOTH = {"A", "B", "### A", "### B"}
PLACEHOLDER = re.compile(r"\{\w+\}")


def test_committed_mo_is_its_po_compiled():
    for locale in ("pt_BR",):
        assert i18n.po_path(locale).with_suffix(".mo").read_bytes() == i18n.compiled(locale), (
            "run `python -m pages.i18n` and commit the .mo"
        )


def test_every_string_of_the_pages_and_defaults_is_translated():
    with i18n.po_path("pt_BR").open("rb") as f:
        catalog = read_po(f, locale="pt_BR", domain=i18n.DOMAIN)
    template = i18n.template()
    assert len([m for m in template if m.id]) >= 50  # the extraction found the pages' strings
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id)
        assert translated is not None and i18n.translated(translated), f"untranslated: {message.id!r}"
        assert translated.pluralizable == message.pluralizable, message.id
        # the same placeholders in every form, or .format() would fail (or drop a number) in Portuguese
        english = message.id[-1] if message.pluralizable else message.id
        for form in translated.string if translated.pluralizable else (translated.string,):
            assert sorted(PLACEHOLDER.findall(form)) == sorted(PLACEHOLDER.findall(english)), form
    assert i18n.gettext_for("pt")("Submit") == "Enviar"
    assert i18n.gettext_for("pt-BR")("Skip") == "Pular"
    assert i18n.gettext_for("en")("Submit") == "Submit"
    assert i18n.gettext_for("de")("Submit") == "Submit"  # no German catalog: English
    assert i18n.gettext_for("pt")("my own instructions") == "my own instructions"


def test_campaign_language_is_stored_and_checked(app_env, tmp_path):
    run = str(tmp_path / "runs" / "run-1")
    campaign_id = create_campaign(app_env, CampaignConfig(name="pt", run_dir=run, language="pt-BR"))
    stored = app_env.execute("SELECT language FROM campaigns WHERE campaign_id = ?", [campaign_id]).fetchone()
    assert stored == ("pt",)
    with pytest.raises(CampaignError, match="ISO 639-1"):
        create_campaign(app_env, CampaignConfig(name="bad", run_dir=run, language="portuguese"))


def _visible_strings(at) -> list[str]:
    """Every string of our own an annotator reads on the page (the model's texts are `st.text`, left out here
    except the instructions, checked apart)."""
    found = [
        e.value
        for kind in ("title", "markdown", "caption", "info", "success", "warning", "error")
        for e in getattr(at, kind)
    ]
    found += [b.label for b in at.button] + [e.label for e in at.expander] + [t.label for t in at.text_area]
    found += [s.label for s in at.selectbox] + [g.label for g in at.button_group]
    found += [p.proto.text for p in at.get("progress")]
    return [s for s in found if s]


def _walk(at, token_of) -> list[str]:
    """The states an annotator meets: a fresh pair, submit without a choice, a choice, a saved judgment and
    the next pair, undo (editing), an edit saved, the last pair judged."""
    seen = []
    at.run()
    assert not at.exception
    seen += _visible_strings(at)
    seen += [at.text[0].value]  # the instructions (expanded on the first pair)
    at.button(key="submit").click().run()  # no choice yet: a warning
    seen += _visible_strings(at)
    token = token_of(at)
    at.button(key=f"choose::{token}::A").click().run()
    at.button_group(key=f"score::{token}::fluency::A").set_value(4).run()
    seen += _visible_strings(at)
    at.button(key="submit").click().run()  # saved; the second pair, with undo and the last judgments
    seen += _visible_strings(at)
    at.button(key="undo_last").click().run()  # editing the first judgment
    seen += _visible_strings(at)
    token = token_of(at)
    at.button(key=f"choose::{token}::B").click().run()
    at.button(key="submit").click().run()  # edit saved (version 2)
    seen += _visible_strings(at)
    token = token_of(at)
    at.button(key=f"choose::{token}::tie").click().run()
    at.button(key="submit").click().run()  # nothing left
    seen += _visible_strings(at)
    assert not at.exception
    return seen


def test_annotate_page_in_portuguese_has_no_english_string(open_page, app_env, tmp_path, run_writer):
    run = str(run_writer(tmp_path / "runs" / "two", n_items=2))

    def token_of(at):
        return next(b.key for b in at.button if b.key and b.key.startswith("choose::")).split("::")[1]

    walks = {}
    for language in ("en", "pt"):
        campaign_id = create_campaign(app_env, CampaignConfig(name="c", run_dir=run, k=1, language=language))
        annotator = users.create_user(app_env, f"ann-{language}", "velvet-harbor-pines-29", "annotator")
        walks[language] = _walk(login_as(open_page("annotate"), annotator), token_of)
        set_status(app_env, campaign_id, "closed")  # one open campaign at a time: the page shows it
    english, portuguese = set(walks["en"]), set(walks["pt"])
    # the walk met every state: the messages of each are there, in English and in Portuguese
    for expected in (
        "Saved.",
        "Edit saved (version 2).",
        "Choose A, B, tie or both bad first.",
        "Undo last",
        "Nothing left to judge in this campaign. Thank you!",
        "Your choice: A is better",
    ):
        assert any(expected in s for s in english), expected
    for expected in (
        "Salvo.",
        "Edição salva (versão 2).",
        "Enviar",
        "Desfazer o último",
        "Fluência",
        "Sua escolha: A é melhor",
        i18n.gettext_for("pt")(DEFAULT_INSTRUCTIONS),
    ):
        assert any(expected in s for s in portuguese), expected
    untranslated = sorted((english & portuguese) - SAME_IN_BOTH)
    assert not untranslated, f"shown in English on the Portuguese page: {untranslated}"
    # and no Portuguese string is an English one that the English page did not happen to show
    template = {m.id for m in i18n.template() if m.id}
    assert not [s for s in portuguese if s in template - SAME_IN_BOTH]


def test_login_and_password_pages_follow_the_open_campaigns_language(open_page, app_env, tmp_path):
    run = str(tmp_path / "runs" / "run-1")
    english_login = open_page("login").run()
    assert [t.label for t in english_login.text_input] == ["Username", "Password"]
    pt = create_campaign(app_env, CampaignConfig(name="pt", run_dir=run, language="pt"))
    login = open_page("login").run()
    assert [t.label for t in login.text_input] == ["Nome de usuário", "Senha"]
    # the open campaigns' language is remembered between runs (anonymous runs query nothing), and follows
    # every close and reopen at once
    set_status(app_env, pt, "closed")
    assert [t.label for t in open_page("login").run().text_input] == ["Username", "Password"]
    set_status(app_env, pt, "active")
    assert [t.label for t in open_page("login").run().text_input] == ["Nome de usuário", "Senha"]
    assert login.subheader[0].value == "Entrar" and login.button[0].label == "Entrar"
    annotator = users.create_user(app_env, "ana", "velvet-harbor-pines-29", "annotator")
    password = login_as(open_page("password"), annotator).run()
    assert password.title[0].value == "Senha"
    assert [t.label for t in password.text_input][0] == "Senha atual"
    researcher = users.create_user(app_env, "rita", "copper-kite-orchard-64", "researcher")
    assert (
        login_as(open_page("password"), researcher).run().title[0].value == "Password"
    )  # researchers: English


def test_researcher_picks_the_language_on_the_campaign_form(open_page, app_env, researcher):
    at = login_as(open_page("campaigns"), researcher).run()
    assert at.selectbox(key="language").options == ["English", "Português (Brasil)"]
    at.selectbox(key="language").set_value("pt").run()
    at.button(key="create").click().run()
    assert not at.exception and "created" in at.success[0].value
    assert list_campaigns(app_env).language.tolist() == ["pt"]


def test_numbers_and_counted_strings_follow_the_locales_rules():
    """Counts pick their form by the locale's plural rules and numbers are written the locale's way: checked
    against Babel's CLDR data (the plural category of each n for pt_BR), not against our own catalog."""
    from babel import Locale

    comment = (
        "Comment (optional, at most {limit} character)",
        "Comment (optional, at most {limit} characters)",
    )
    category = Locale.parse("pt_BR").plural_form  # one: 0 and 1; many: whole millions; other: the rest
    noun = {"one": "caractere", "many": "de caracteres", "other": "caracteres"}
    _n = i18n.ngettext_for("pt")
    for n in (0, 1, 2, 1000, 2000, 1_000_000, 1_500_000, 3_000_000):
        number = i18n.format_number(n, "pt")
        shown = _n(*comment, n).format(limit=number)
        assert shown == f"Comentário (opcional, no máximo {number} {noun[category(n)]})", n
    assert i18n.format_number(2000, "pt") == "2.000" and i18n.format_number(1_500_000, "pt-BR") == "1.500.000"
    # English, and a language without a catalog, are written the English way
    assert i18n.format_number(2000, "en") == "2,000" and i18n.format_number(2000, "de") == "2,000"
    english = i18n.ngettext_for("en")
    assert english(*comment, 1).format(limit="1") == "Comment (optional, at most 1 character)"
    assert english(*comment, 0).format(limit="0") == "Comment (optional, at most 0 characters)"


def _english_patterns() -> list[re.Pattern]:
    """Every English string of the catalog (each plural form too) as a pattern its formatted text matches."""
    patterns = []
    for message in i18n.template():
        for english in message.id if message.pluralizable else (message.id,):
            if english and english not in SAME_IN_BOTH:
                parts = PLACEHOLDER.split(english)
                patterns.append(re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL))
    return patterns


def _menu_strings(at) -> list[str]:
    """The menu an annotator reads: the pages' titles, who is logged in, and Log out."""
    # AppTest has no element for st.navigation; the pages it registered carry their titles
    titles = [info["page_name"] for info in at._registered_pages.values()]
    return titles + [t.value for t in at.sidebar.text] + [b.label for b in at.sidebar.button]


def test_menu_and_pages_speak_the_language_of_the_campaign_shown(open_page, app_env, tmp_path, run_writer):
    """An English and a Portuguese campaign are open. Wherever the annotate page takes the Portuguese one
    from (its box, the URL, the campaign this tab showed last), the menu speaks Portuguese with it; the
    walk through the annotate page and the password page show no English string of the catalog, and numbers
    are written the Portuguese way ("2.000"). Without a choice, the newest campaign (English) sets both."""
    run = str(run_writer(tmp_path / "runs" / "two", n_items=2))
    portuguese = create_campaign(app_env, CampaignConfig(name="Resumos", run_dir=run, k=1, language="pt"))
    create_campaign(app_env, CampaignConfig(name="Summaries", run_dir=run, k=1, language="en"))  # the newest
    annotator = users.create_user(app_env, "bia", "velvet-harbor-pines-29", "annotator")

    def entry_point(query=None, **state):
        # a fresh first run each time: AppTest reruns a page of st.navigation without the entry point around
        # it
        at = login_as(open_page("streamlit_app"), annotator)
        at.query_params.update(query or {})
        for key, value in state.items():
            at.session_state[key] = value
        return at.run()

    english = entry_point()
    assert not english.exception and english.title[0].value == "Annotate"
    assert {"Annotate", "Password", "Log out", "Logged in as bia (annotator)"} <= set(_menu_strings(english))
    seen = []
    for chosen in (
        entry_point(campaign=portuguese),
        entry_point(query={"campaign": portuguese}),
        entry_point(**{i18n.SHOWN_CAMPAIGN_KEY: portuguese}),
    ):
        assert not chosen.exception and chosen.title[0].value == "Anotar"
        menu = _menu_strings(chosen)
        assert {"Anotar", "Senha", "Sair", "Conectado como bia (anotador)"} <= set(menu), menu
        seen += menu

    def token_of(at):
        return next(b.key for b in at.button if b.key and b.key.startswith("choose::")).split("::")[1]

    page = login_as(open_page("annotate"), annotator).run()
    page.selectbox(key="campaign").set_value(portuguese).run()
    steps = _walk(page, token_of)
    comment_box = next(s for s in steps if s.startswith("Comentário"))
    assert "no máximo 2.000 caracteres" in comment_box and not any("2,000" in s for s in steps)
    assert page.session_state[i18n.SHOWN_CAMPAIGN_KEY] == portuguese  # what the menu and password page read
    # the password page, opened from the menu, keeps the campaign this tab showed (the page's box is gone
    # there)
    password = login_as(open_page("password"), annotator)
    password.session_state[i18n.SHOWN_CAMPAIGN_KEY] = portuguese
    password.run()
    assert not password.exception and password.title[0].value == "Senha"
    seen += steps + [t.label for t in password.text_input] + [b.label for b in password.button]
    assert "Nova senha (pelo menos 12 caracteres)" in seen
    english_left = sorted({s for s in seen for p in _english_patterns() if p.fullmatch(s)})
    assert not english_left, f"English on the Portuguese campaign's pages: {english_left}"

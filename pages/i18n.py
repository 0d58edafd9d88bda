"""The annotator's strings in the campaign's language: one gettext catalog (domain `annotator`).

Every string an annotator reads on the annotate page (and on the login and password pages, and the menu) is
written in English in the code and wrapped in `_()`; `translator(language)` looks it up in
`pages/locales/<locale>/LC_MESSAGES/annotator.mo`. The catalogs are made with Babel, by

    python -m pages.i18n        # extract the strings (annotator.pot), merge them into each .po, compile the
    .mo

after a string changes; translate the new entries of the .po (`msgstr`), run it again, and commit the .po and
its .mo together (the .mo is committed, so nothing is compiled at install or start).
`tests/app/test_annotator_language.py` checks that the committed .mo equals its .po compiled, that every
wrapped string has a translation, and walks the annotate page in each language. English needs no catalog (the
strings are English). A campaign's `language` is an ISO 639-1 code; languages without a catalog are shown in
English. The campaign defaults (instructions, criteria) are English in the store and translated when shown, so
a researcher's own text, which the catalog does not hold, is shown as written.

Numbers are written the page language's way through Babel (`format_number`: "2,000" in English, "2.000" in
Portuguese), and a string with a count goes through `_n` (`ngettext_for`), which picks the form by the
locale's plural rules (the catalog's Plural-Forms, from Babel's CLDR data). The menu and the account pages
speak the language of the campaign the annotate page shows this annotator (`page_language`), not only the one
every open campaign shares.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "annotator"
# The languages annotators can be shown, as the campaign form offers them: ISO 639-1 code -> name.
UI_LANGUAGES = {"en": "English", "pt": "Português (Brasil)"}
_LOCALES = {"pt": "pt_BR"}  # the catalog of each code (Brazilian Portuguese for pt)


@functools.lru_cache(maxsize=8)
def translator(language: str | None) -> gettext.NullTranslations:
    """The catalog of `language` (an ISO 639-1 code); English (the strings as written) when none exists."""
    locale = _LOCALES.get((language or "en").split("-")[0].lower())
    if locale is None:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[locale], fallback=True)


def N_(message: str) -> str:
    """Marks a string for the catalog (the extraction finds it); `_` translates it where it is shown."""
    return message


def gettext_for(language: str | None) -> Callable[[str], str]:
    """`_` for a language: `_("Submit")` -> "Enviar" for "pt"."""
    return translator(language).gettext


def ngettext_for(language: str | None) -> Callable[[str, str, int], str]:
    """`_n` for a language: `_n("{n} character", "{n} characters", n)` in the form the locale's plural rules
    give for n (Portuguese: one form for 0 and 1, one for other counts, one for whole millions)."""
    return translator(language).ngettext


def locale_of(language: str | None) -> str:
    """The Babel locale of a language's pages: 'pt_BR' for 'pt', 'en' for English and languages without a
    catalog."""
    return _LOCALES.get((language or "en").split("-")[0].lower(), "en")


def format_number(number: float, language: str | None) -> str:
    """A number written the language's way: 2000 -> '2,000' (English), '2.000' (Portuguese)."""
    from babel.numbers import format_decimal

    return format_decimal(number, locale=locale_of(language))


def study_language(con) -> str:
    """The language of the pages an annotator sees before a campaign (login, password, the menu): the one
    every open campaign shares, else English."""
    from annotations.campaigns.language import open_campaign_languages

    languages = open_campaign_languages(con)
    return languages.pop() if len(languages) == 1 else "en"


# The campaign the annotate page showed last in this tab: the menu and the password page keep its language
# after the page's own box (a widget, forgotten on another page) and the URL's ?campaign= are gone.
SHOWN_CAMPAIGN_KEY = "annotate_campaign"


def shown_campaign(campaigns: dict[str, str]) -> str | None:
    """The campaign the annotate page shows this tab, of the open `campaigns` (id -> name): the one picked
    in the page's box, named in the URL (`?campaign=`) or shown last in this tab, else the newest; None
    when none is open. The menu calls it before the page runs, so both speak the same language."""
    import streamlit as st

    for wanted in (
        st.session_state.get("campaign"),
        st.query_params.get("campaign"),
        st.session_state.get(SHOWN_CAMPAIGN_KEY),
    ):
        if wanted in campaigns:
            return wanted
    return next(iter(campaigns), None)


def page_language(con, user) -> str:
    """The language of the menu and the password page: English for a researcher; for an annotator, the
    language of the campaign the annotate page shows them (English when none is open); before a login,
    `study_language`."""
    from annotations.campaigns.language import campaign_language
    from annotations.judging.assignment import open_campaigns

    if user is None:
        return study_language(con)
    if user.is_researcher:
        return "en"
    campaign_id = shown_campaign(open_campaigns(con, user.user_id))  # the campaigns the annotate page offers
    return "en" if campaign_id is None else campaign_language(con, campaign_id)


# ----------------------------------------------------------------------------------------------- the catalogs
SOURCES = (
    "pages/annotate.py",
    "pages/pair_view.py",
    "pages/login.py",
    "pages/password.py",
    "pages/study.py",
    "pages/study_messages.py",
    "streamlit_app.py",
)
KEYWORDS = {"_": None, "N_": None, "_n": (1, 2)}


def campaign_default_messages() -> list[str]:
    """The campaign's English defaults an annotator reads: the instructions, the criteria's names and
    questions."""
    from annotations.campaigns import DEFAULT_INSTRUCTIONS, default_criteria

    criteria = default_criteria()
    return [
        DEFAULT_INSTRUCTIONS,
        *(c.name.capitalize() for c in criteria),
        *(c.description for c in criteria),
    ]


def template():
    """The catalog template: every `_()`/`N_()` string of SOURCES, then the campaign defaults."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_file

    root = Path(__file__).resolve().parent.parent
    catalog = Catalog(project="did-the-fine-tune-help", domain=DOMAIN, fuzzy=False)
    for source in SOURCES:
        for line, message, comments, context in extract_from_file("python", root / source, KEYWORDS):
            catalog.add(message, locations=[(source, line)], auto_comments=comments, context=context)
    for message in campaign_default_messages():
        catalog.add(message, locations=[("annotations/campaigns.py", 0)])
    return catalog


def translated(message) -> bool:
    """Whether a catalog entry has its translation: every plural form of a counted string."""
    forms = message.string if message.pluralizable else (message.string,)
    return bool(forms) and all(forms) and not message.fuzzy


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def compiled(locale: str) -> bytes:
    """The .mo bytes of a locale's .po, as Babel compiles them."""
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path(locale).open("rb") as f:
        catalog = read_po(f, locale=locale, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def update_catalogs() -> None:
    """Write annotator.pot, merge it into every locale's .po (new strings untranslated), compile each .mo."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    pot = template()
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as f:
        write_po(f, pot, width=116)
    for locale in _LOCALES.values():
        path = po_path(locale)
        if path.is_file():
            with path.open("rb") as f:
                catalog = read_po(f, locale=locale, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, domain=DOMAIN)
        catalog.update(pot, no_fuzzy_matching=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=116, ignore_obsolete=True)
        path.with_suffix(".mo").write_bytes(compiled(locale))
        missing = [m.id for m in catalog if m.id and not translated(m)]
        print(f"{path}: {len(catalog)} messages, {len(missing)} untranslated")


if __name__ == "__main__":
    update_catalogs()

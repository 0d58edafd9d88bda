"""The study page's fixed words (pages/study.py): the choices and why a study link is refused, one sentence
per `annotations.crowd.links.REASONS`. Apart from the page so tests can read them without running it."""

from pages.i18n import N_

CHOICES = {"A": N_("A is better"), "B": N_("B is better"), "tie": N_("Tie"), "both_bad": N_("Both bad")}
SIDE_LETTER = {"left": "A", "right": "B", "tie": "tie", "both_bad": "both_bad"}
REFUSALS = {
    "no_study": N_(
        "This study link is not valid: it names no study we know. Please open the study again from the "
        "panel's page."
    ),
    "bad_key": N_(
        "This study link is incomplete or altered (its secret part is missing or wrong). Please open the "
        "study again from the panel's page."
    ),
    "closed": N_("This study is no longer taking participants. Thank you for your interest."),
    "no_participant": N_(
        "This study link has no participant id. Please open the study from the panel's page, not by "
        "copying its address."
    ),
    "placeholder": N_(
        "This study link was opened without the panel filling in your participant id. Please start the "
        "study from the panel's page."
    ),
    "bad_parameter": N_(
        "This study link has a parameter we cannot read. Please open the study again from the panel's page."
    ),
    "bound_elsewhere": N_(
        "You have already started this study in another browser or window. Please continue there: a study "
        "can be taken only once, in one browser."
    ),
    "not_participant": N_("Please open the study through the link on the panel's page."),
}

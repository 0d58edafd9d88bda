"""Study links per platform, and reading the parameters a participant arrives with (pure: no store).

A link is `<app url>/?study=<study id>&key=<secret>` plus the platform's own parameters, which the panel
fills in for each participant:

- Prolific: `PROLIFIC_PID`, `STUDY_ID`, `SESSION_ID` (written `{{%PROLIFIC_PID%}}` ... in the link pasted
  there);
- MTurk (an ExternalQuestion HIT): MTurk appends `assignmentId`, `hitId`, `turkSubmitTo` and `workerId`; in
  the preview `assignmentId` is `ASSIGNMENT_ID_NOT_AVAILABLE` and there is no worker: the page only shows the
  instructions;
- a generic panel: the parameter named in the study's config.

`lang=<ISO 639-1>` picks the participant's language. Every refusal is a `CrowdLinkError` whose `reason` the
page turns into a clear sentence in the participant's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from annotations.crowd.config import StudyConfig
from annotations.errors import AnnotationError
from ft_core.config import ConfigError, check_language

MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
# Where MTurk's external submit may go: the live site and the sandbox, never a host the link names.
MTURK_SUBMIT_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc={code}"
_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")
_PLATFORM_IDS = {
    "prolific": ("STUDY_ID", "SESSION_ID"),
    "mturk": ("assignmentId", "hitId", "turkSubmitTo"),
    "generic": (),
}
# Why a link is refused; the page words each one for the participant.
REASONS = (
    "no_study",  # no study id, or an unknown one
    "bad_key",  # the secret part missing or wrong
    "closed",  # the study no longer takes participants
    "no_participant",  # the participant id parameter is missing or empty
    "placeholder",  # the panel's placeholders were not filled in (the link was opened by hand)
    "bad_parameter",  # a parameter is malformed
    "bound_elsewhere",  # this participant started in another browser
    "not_participant",  # no study link and no study session
)


class CrowdLinkError(AnnotationError):
    """A study link or arrival refused; `reason` is one of REASONS, the message says it in English."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Arrival:
    """What a study link says about the participant: their id, the platform's other ids, whether this is an
    MTurk preview (no participant yet), and the language asked for (None: the campaign's)."""

    participant_id: str | None
    platform_ids: dict[str, str] = field(default_factory=dict)
    preview: bool = False
    language: str | None = None


def _value(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if isinstance(value, list):  # a parameter given twice: refuse rather than guess which one counts
        raise CrowdLinkError("bad_parameter", f"the link gives '{name}' more than once")
    return (value or "").strip()


def _checked_id(name: str, value: str) -> str:
    if "{" in value or "%" in value or "}" in value:
        raise CrowdLinkError("placeholder", f"'{name}' still holds the panel's placeholder ({value[:40]})")
    if not _ID.match(value):
        raise CrowdLinkError("bad_parameter", f"'{name}' must be 1-128 letters, digits or . _ @ : -")
    return value


def parse_arrival(config: StudyConfig, params: Mapping[str, str]) -> Arrival:
    """The arrival a link's parameters describe, for a study with this config; CrowdLinkError otherwise."""
    language = _value(params, "lang") or None
    if language is not None:
        try:
            language = check_language(language)
        except ConfigError as e:
            raise CrowdLinkError("bad_parameter", f"lang: {e}") from e
    if config.platform == "mturk" and _value(params, "assignmentId") == MTURK_PREVIEW:
        return Arrival(None, preview=True, language=language)
    participant_id = _value(params, config.id_parameter)
    if not participant_id:
        raise CrowdLinkError("no_participant", f"the link has no participant id ('{config.id_parameter}')")
    participant_id = _checked_id(config.id_parameter, participant_id)
    platform_ids = {}
    for name in _PLATFORM_IDS[config.platform]:
        value = _value(params, name)
        if config.platform == "mturk" and not value:
            raise CrowdLinkError("bad_parameter", f"MTurk links carry '{name}'; this one has none")
        if not value:
            continue
        if name == "turkSubmitTo":
            value = value.rstrip("/")
            if value not in MTURK_SUBMIT_HOSTS:
                raise CrowdLinkError(
                    "bad_parameter", f"turkSubmitTo must be one of {', '.join(MTURK_SUBMIT_HOSTS)}"
                )
        else:
            value = _checked_id(name, value)
        platform_ids[name] = value
    return Arrival(participant_id, platform_ids, language=language)


def study_link(base_url: str, study_id: str, secret: str, config: StudyConfig) -> str:
    """The link to paste into the panel: the study and its secret, plus the panel's placeholders."""
    link = f"{base_url.rstrip('/')}/?{urlencode({'study': study_id, 'key': secret})}"
    if config.platform == "prolific":
        # Prolific fills these in itself when "URL parameters" is on; they are written out for clarity.
        return link + "&PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    if config.platform == "mturk":
        return link  # MTurk appends assignmentId, hitId, turkSubmitTo and workerId
    return link + f"&{config.id_parameter}=PARTICIPANT_ID"


def completion_target(config: StudyConfig, platform_ids: Mapping[str, str], code: str) -> str | None:
    """Where the completion (or screen-out) page sends the participant: Prolific's completion URL with the
    code, MTurk's external submit (a form POST, see `mturk_submit_url`), a generic panel's URL; None: none."""
    if config.platform == "prolific":
        return PROLIFIC_COMPLETE.format(code=code)
    if config.platform == "mturk":
        return mturk_submit_url(platform_ids)
    return config.completion_url.replace("{code}", code) if config.completion_url else None


def mturk_submit_url(platform_ids: Mapping[str, str]) -> str | None:
    """`<turkSubmitTo>/mturk/externalSubmit` (its host checked on arrival), or None without one."""
    host = platform_ids.get("turkSubmitTo")
    return f"{host}/mturk/externalSubmit" if host in MTURK_SUBMIT_HOSTS else None

"""A participant's path through a study, as a small state machine (pure).

consent --agree--> instructions --continue--> training --pass--> task --finish--> complete
   |                   |                         |
   decline             (no training: task)       fail
   v                                             v
 screened_out  <---------------------------------+

`advance(phase, event)` gives the next phase or raises PhaseError for a move the path does not have (a resent
button of an earlier phase), so a participant can neither skip training nor come back from an end.
"""

from __future__ import annotations

from annotations.errors import AnnotationError

PHASES = ("consent", "instructions", "training", "task", "complete", "screened_out")
ENDS = ("complete", "screened_out")
_MOVES = {
    ("consent", "agree"): "instructions",
    ("consent", "decline"): "screened_out",
    ("instructions", "continue"): "training",
    ("instructions", "continue_without_training"): "task",
    ("training", "pass"): "task",
    ("training", "fail"): "screened_out",
    ("task", "finish"): "complete",
}


class PhaseError(AnnotationError):
    """A move the participant's path does not have from where they are."""


def advance(phase: str, event: str) -> str:
    """The phase after `event` in `phase`; PhaseError when that move does not exist."""
    try:
        return _MOVES[(phase, event)]
    except KeyError:
        raise PhaseError(f"'{event}' cannot happen in phase '{phase}'") from None


def qualified(correct: int, total: int, threshold: float) -> bool:
    """Whether a training score passes: the share right is at least the threshold (no training: passes)."""
    return total == 0 or correct / total >= threshold - 1e-12

"""Crowd studies: a campaign judged by participants who arrive from a panel (Prolific, MTurk or any other).

- `config`: `StudyConfig` (platform, consent, codes, training items, qualification, quota, time limit,
  attention checks), checked once; `read_training` reads the training items' file (CSV or YAML).
- `links`: the study link per platform and reading an arrival's parameters (pure; refusals are
  `CrowdLinkError`).
- `phases`: the participant's path as a small state machine (pure).
- `studies`: opening a campaign as a study (only the link's secret's hash is stored) and reading a study back.
- `participants`: an arrival (one passwordless account per platform id, bound to the session of the first
  arrival), each phase's outcome, training answers with feedback, attention checks, the completion.
- `outcomes`: per participant, as a DataFrame for the quality statistics and the Campaigns page.

docs/crowd.md walks a researcher through it; docs/security.md says what a study link does and does not
protect.
"""

from annotations.crowd.config import PLATFORMS, StudyConfig, TrainingItem, read_training
from annotations.crowd.links import Arrival, CrowdLinkError, parse_arrival, study_link
from annotations.crowd.outcomes import check_outcomes, participant_ids, participant_outcomes, phase_outcomes
from annotations.crowd.participants import (
    AttentionCheck,
    Entry,
    Participant,
    TaskState,
    TrainingFeedback,
    TrainingPair,
    answer_attention,
    answer_training,
    arrive,
    finish_task,
    finish_training,
    is_crowd_account,
    next_attention_check,
    next_training_item,
    participant_of_session,
    participant_of_user,
    record_consent,
    record_instructions_read,
    task_state,
    training_feedback,
)
from annotations.crowd.phases import PHASES, PhaseError, advance
from annotations.crowd.studies import (
    OpenedStudy,
    Study,
    close_study,
    get_study,
    list_studies,
    open_study,
    read_link,
    studies_frame,
)

__all__ = [
    "PHASES",
    "PLATFORMS",
    "Arrival",
    "AttentionCheck",
    "CrowdLinkError",
    "Entry",
    "OpenedStudy",
    "Participant",
    "PhaseError",
    "Study",
    "StudyConfig",
    "TaskState",
    "TrainingFeedback",
    "TrainingPair",
    "TrainingItem",
    "advance",
    "answer_attention",
    "answer_training",
    "arrive",
    "check_outcomes",
    "close_study",
    "finish_task",
    "finish_training",
    "is_crowd_account",
    "get_study",
    "list_studies",
    "next_attention_check",
    "next_training_item",
    "open_study",
    "parse_arrival",
    "participant_ids",
    "participant_of_session",
    "participant_of_user",
    "participant_outcomes",
    "phase_outcomes",
    "read_link",
    "read_training",
    "studies_frame",
    "record_consent",
    "record_instructions_read",
    "study_link",
    "task_state",
    "training_feedback",
]

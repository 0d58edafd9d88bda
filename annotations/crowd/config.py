"""A crowd study's settings as one typed object that checks itself, and the training items' file."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field

import yaml

from annotations.errors import AnnotationError

PLATFORMS = ("prolific", "mturk", "generic")
ANSWERS = ("A", "B", "tie", "both_bad")  # a training item's gold answer may also name a system
_PARAMETER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The study link's own parameters: a generic panel's id parameter may not take one of these names.
RESERVED_PARAMETERS = ("study", "key", "lang", "campaign", "invite")


class StudyConfigError(AnnotationError, ValueError):
    """A study setting or the training file is wrong; the message says which and how."""


@dataclass(frozen=True)
class TrainingItem:
    """One training pair: a campaign item, its gold answer (a system name, 'tie' or 'both_bad'), and the
    researcher's explanation shown as feedback."""

    item_id: str
    gold: str
    explanation: str = ""


@dataclass
class StudyConfig:
    """How a campaign runs as a crowd study (docs/crowd.md)."""

    platform: str = field(default="prolific", metadata={"help": "prolific, mturk or generic"})
    id_parameter: str = field(
        default="PROLIFIC_PID",
        metadata={"help": "the link's parameter holding the participant id (generic panels choose it)"},
    )
    consent_text: str = field(default="", metadata={"help": "shown first; declining ends the study"})
    completion_code: str = field(default="", metadata={"help": "given on the completion page"})
    screen_out_code: str = field(default="", metadata={"help": "given after declining or failing training"})
    completion_url: str = field(
        default="",
        metadata={
            "help": "generic panels: where the completion page sends the participant ({code} is filled)"
        },
    )
    training: list[TrainingItem] = field(default_factory=list, metadata={"help": "training items, in order"})
    qualification: float = field(
        default=0.0, metadata={"help": "share of training items answered right needed to go on (0-1)"}
    )
    quota: int | None = field(
        default=None, metadata={"help": "task pairs per participant (None: as assigned)"}
    )
    time_limit_minutes: float | None = field(
        default=None, metadata={"help": "the task ends this long after it starts (None: no limit)"}
    )
    attention_every: int = field(
        default=0, metadata={"help": "an attention check after every this many task pairs (0: none)"}
    )

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise StudyConfigError(f"platform must be one of {', '.join(PLATFORMS)}, got '{self.platform}'")
        if self.platform == "prolific":
            self.id_parameter = "PROLIFIC_PID"
        elif self.platform == "mturk":
            self.id_parameter = "workerId"
        elif not _PARAMETER.match(self.id_parameter or "") or self.id_parameter in RESERVED_PARAMETERS:
            raise StudyConfigError(
                "the participant id parameter must be a letter then up to 39 letters, digits or _, and not "
                f"one of {', '.join(RESERVED_PARAMETERS)}; got '{self.id_parameter}'"
            )
        for name in ("completion_code", "screen_out_code"):
            code = getattr(self, name).strip()
            object.__setattr__(self, name, code)
            if code and not _CODE.match(code):
                raise StudyConfigError(
                    f"{name.replace('_', ' ')}: 1-64 letters, digits, _ or -; got '{code}'"
                )
        if not self.completion_code:
            raise StudyConfigError("a study needs a completion code (the one the panel gave you)")
        if self.completion_url and not self.completion_url.startswith("https://"):
            raise StudyConfigError("the completion URL must start with https://")
        if not 0.0 <= self.qualification <= 1.0:
            raise StudyConfigError(f"qualification must be a share between 0 and 1, got {self.qualification}")
        if self.quota is not None and self.quota < 1:
            raise StudyConfigError(f"quota must be at least 1 pair, got {self.quota}")
        if self.time_limit_minutes is not None and self.time_limit_minutes <= 0:
            raise StudyConfigError(f"time limit must be positive, got {self.time_limit_minutes} minutes")
        if self.attention_every < 0:
            raise StudyConfigError(f"attention checks every {self.attention_every} pairs: must be 0 or more")
        self.training = [t if isinstance(t, TrainingItem) else TrainingItem(**t) for t in self.training]
        if self.qualification > 0 and not self.training:
            raise StudyConfigError("a qualification threshold needs training items to qualify on")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> StudyConfig:
        return cls(**json.loads(text))


def read_training(text: str, filename: str = "training.csv") -> list[TrainingItem]:
    """Training items from a CSV (columns item_id, gold, explanation) or a YAML list of mappings with those
    keys; StudyConfigError names the first problem."""
    try:
        if filename.lower().endswith((".yaml", ".yml")):
            rows = yaml.safe_load(text) or []
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise StudyConfigError(
                    f"{filename}: expected a list of items with item_id, gold, explanation"
                )
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
    except (yaml.YAMLError, csv.Error) as e:
        raise StudyConfigError(f"{filename} cannot be read: {e}") from e
    items = []
    for number, row in enumerate(rows, 1):
        item_id, gold = str(row.get("item_id") or "").strip(), str(row.get("gold") or "").strip()
        if not item_id or not gold:
            raise StudyConfigError(f"{filename}, item {number}: item_id and gold are both needed")
        items.append(TrainingItem(item_id, gold, str(row.get("explanation") or "").strip()))
    if len({t.item_id for t in items}) != len(items):
        raise StudyConfigError(f"{filename}: an item_id appears twice")
    return items

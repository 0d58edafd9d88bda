"""A campaign's settings as one typed object: which two systems are compared on which items, under which
criteria, by how many annotators. The researcher's form (pages/campaign_form.py) is built from its fields'
labels, help, defaults and limits (`min`/`max`/`above`/`below` in the metadata: the one source of limits);
the object is stored as JSON on the campaign. It checks itself when it is made."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

from annotations.errors import CampaignError
from annotations.fields import bounded, check_limits
from annotations.judging.design import check_design
from ft_core.config import ConfigError, check_language, option

SPECIAL_WINNERS = ("tie", "both_bad")
SELECTIONS = ("all", "random", "critical")

# Texts longer than this are refused at import (or cut, when the researcher asks): a page showing a megabyte
# of text on one line froze annotators' tabs. Comments are kept short for the same reason.
DEFAULT_MAX_TEXT_CHARS = 20_000
DEFAULT_MAX_COMMENT_CHARS = 2_000

DEFAULT_INSTRUCTIONS = (
    "Read the source, then the two outputs A and B. Choose the better output, or tie, or both bad. "
    "Then score each output from 1 (poor) to 5 (excellent) on every criterion. Which system wrote which "
    "output is hidden. Which of the two is shown as A is drawn at random for each pair, from a sequence made "
    "for you alone in which each system is A equally often, and you get the pairs in an order of your own."
)


@dataclass
class Criterion:
    """A 1–5 (or min–max) score the annotator gives each of the two outputs."""

    name: str = option(help="short key, e.g. 'fluency'", label="Name")
    description: str = option("", help="the question shown to the annotator", label="Question")
    min_score: int = option(1, help="lowest score", label="Lowest score")
    max_score: int = option(5, help="highest score", label="Highest score")


def default_criteria() -> list[Criterion]:
    """Fluency, fidelity to the source and relevance, each 1–5."""
    return [
        Criterion("fluency", "Is the output well-formed, grammatical, easy to read?"),
        Criterion("fidelity", "Is everything it says supported by the source (no invented facts)?"),
        Criterion("relevance", "Does it keep what matters in the source and leave out what does not?"),
    ]


@dataclass
class CampaignConfig:
    """Everything a researcher chooses when creating a campaign. Stored as JSON on the campaign; raises
    CampaignError naming the first bad field when made with bad values."""

    name: str = option(help="name shown to researchers and annotators", label="Campaign name")
    run_dir: str | None = option(
        None, help="run folder whose outputs/ and scores/ are judged", label="Run folder"
    )
    source_file: str | None = option(
        None, help="or a CSV/JSONL with item_id, system, output", label="File of outputs"
    )
    system_a: str = option("base", help="first system (e.g. the base model)", label="System A")
    system_b: str = option("finetuned", help="second system (e.g. the fine-tuned model)", label="System B")
    decoding: str | None = option(
        None, help="decoding name of the outputs; None: the only/first", label="Decoding"
    )
    seed: int | None = option(
        None, help="generation seed of the outputs; None: the only/first", label="Generation seed"
    )
    selection: str = option(
        "all", help="all | random | critical (largest metric disagreement)", label="Items", choices=SELECTIONS
    )
    n_items: int | None = bounded(
        100, help="items to keep for random/critical selection", label="How many (sample / critical)", min=1
    )
    sample_seed: int = bounded(0, help="seed of the random sample", label="Sample seed", min=0)
    critical_metrics: list[str] | None = option(
        None, help="metrics compared; None: quality ones", label="Metrics compared", advanced=True
    )
    criteria: list[Criterion] = option(default_criteria(), help="scores per output", label="Criteria")
    show_reference: bool = option(
        True, help="show the reference text to annotators", label="Show the reference to annotators"
    )
    instructions: str = option(DEFAULT_INSTRUCTIONS, help="shown above every pair", label="Instructions")
    language: str = option(
        "en",
        help="ISO 639-1 code of the texts and of the annotator's page (pages/i18n.py: en, pt)",
        label="Language",
    )
    k: int = bounded(
        3, help="judgments per item, each by a different annotator", label="Annotators per item (k)", min=1
    )
    gold_items: dict[str, str] = option({}, help="item_id -> known winner", label="Gold items")
    gold_rate: float = bounded(
        0.0,
        help="share of an annotator's pairs that are gold items",
        label="Share of gold pairs",
        min=0,
        below=1,
    )
    repeat_rate: float = bounded(
        0.0,
        help="share re-shown later with the sides flipped",
        label="Share of pairs repeated later with sides flipped",
        min=0,
        below=1,
    )
    items_per_annotator: int | None = bounded(
        None, help="quota per annotator; None: no quota", label="Pairs per annotator (0 = no limit)", min=0
    )
    lease_minutes: float = bounded(
        15.0,
        help="an unanswered pair returns to the pool after this",
        label="Lease (minutes an unanswered pair stays held)",
        above=0,
    )
    max_text_chars: int = bounded(
        DEFAULT_MAX_TEXT_CHARS,
        help="longest source, prompt, output or reference imported, in characters",
        label="Longest text (characters per source, output or reference)",
        min=1,
    )
    truncate_long_texts: bool = option(
        False,
        help="cut longer texts to max_text_chars instead of refusing the import",
        label="Cut longer texts instead of refusing the file",
    )
    max_comment_chars: int = bounded(
        DEFAULT_MAX_COMMENT_CHARS,
        help="longest comment an annotator may leave",
        label="Longest comment (characters)",
        min=1,
    )
    side_block_sizes: list[int] = option(
        [8, 12, 16],
        help="each annotator's left sides come in random blocks of these sizes (even, >= 8; drawn at "
        "random), each block with both systems on the left equally often (annotations.judging.design)",
        label="Side block sizes",
        advanced=True,
    )
    side_max_imbalance: int = bounded(
        3,
        min=2,
        help="most by which one system may lead the other on an annotator's left side (>= 2)",
        label="Most left-side lead",
        advanced=True,
    )
    max_items_in_progress: int = bounded(
        32,
        min=1,
        help="items started but short of k at once: once this many are, annotators finish them before new "
        "ones start (larger: annotators' orders differ more; smaller: fewer half-judged items)",
        label="Items in progress at once",
        advanced=True,
    )
    equivalence_margin: float = bounded(
        0.05,
        help="the two systems count as equivalent when the win rate is surely within 1/2 +- this (the "
        "anytime-valid stop, annotations.stats.sequential); set it before looking at the results",
        label="Equivalence margin ±δ (win rate)",
        above=0,
        below=0.5,
    )
    close_when_decided: bool = option(
        False,
        help="close the campaign by itself once the confidence sequence decides (better, worse or "
        "equivalent within the margin)",
        label="Close by itself when decided",
    )
    systems: list[str] | None = option(
        None,
        help="three or more systems to compare in pairs (e.g. base, sft, dpo); each annotator meets every "
        "pair of systems about equally often, sides random and balanced per pair. None: system_a and "
        "system_b only. system_a and system_b must be among them (the pair gold items and the two-system "
        "figures use)",
        label="Systems compared (3 or more)",
        advanced=True,
    )

    def __post_init__(self) -> None:
        self.criteria = [Criterion(**c) if isinstance(c, dict) else c for c in self.criteria]
        check_limits(self, CampaignError)  # types, choices and the limits in the fields' metadata
        self._check()

    def _check(self) -> None:
        """Raise CampaignError naming the first bad field."""
        if not self.name.strip():
            raise CampaignError("campaign name is empty")
        if (self.run_dir is None) == (self.source_file is None):
            raise CampaignError("give exactly one of run_dir (a run folder) or source_file (CSV/JSONL)")
        if self.system_a == self.system_b:
            raise CampaignError(
                f"system_a and system_b are both '{self.system_a}'; pick two different systems"
            )
        if self.systems is not None:
            self.systems = [str(s) for s in self.systems]
            if len(self.systems) < 2 or len(set(self.systems)) != len(self.systems):
                raise CampaignError(f"systems must name at least two different systems, got {self.systems}")
            for field_name in ("system_a", "system_b"):
                if getattr(self, field_name) not in self.systems:
                    raise CampaignError(
                        f"{field_name} '{getattr(self, field_name)}' must be one of systems {self.systems}"
                    )
        if self.selection != "all" and (self.n_items is None or self.n_items < 1):
            raise CampaignError(f"n_items must be >= 1 for selection '{self.selection}'")
        check_design(self.side_block_sizes, self.side_max_imbalance)
        try:
            self.language = check_language(self.language)
        except ConfigError as e:
            raise CampaignError(str(e)) from None
        names = [c.name for c in self.criteria]
        if len(names) != len(set(names)) or any(not re.fullmatch(r"[A-Za-z0-9_]+", n) for n in names):
            raise CampaignError(f"criterion names must be unique words (letters, digits, _): {names}")
        for c in self.criteria:
            if c.min_score >= c.max_score:
                raise CampaignError(f"criterion '{c.name}': min_score must be below max_score")
        allowed = {self.system_a, self.system_b, *SPECIAL_WINNERS}
        for item_id, winner in self.gold_items.items():
            if winner not in allowed:
                raise CampaignError(
                    f"gold item {item_id}: winner '{winner}' must be one of {sorted(allowed)}"
                )

    @property
    def compared_systems(self) -> list[str]:
        """Every system of the campaign: `systems`, or system_a and system_b."""
        return list(self.systems) if self.systems else [self.system_a, self.system_b]

    @property
    def multi_system(self) -> bool:
        """Whether annotators meet pairs drawn from three or more systems."""
        return len(self.compared_systems) > 2

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CampaignConfig:
        return cls(**json.loads(text))

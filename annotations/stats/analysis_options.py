"""How `analyze` turns judgments into conclusions: the options shown on the results page, written into
every export and offered by `python -m annotations stats` (its flags are generated from these fields'
metadata). The options check themselves when made: a bad value is an OptionError (a ValueError) naming the
field and its allowed values."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from annotations.errors import OptionError
from annotations.fields import bounded, check_limits
from annotations.stats import competence, correlation, preference, quality

PARTICIPANT_USES = competence.USES  # keep | weight | exclude (crowd-kit is imported only when fitting)
COMPETENCE_MEASURES = competence.MEASURES  # mace | dawid_skene

LIST_FIELDS = ("exclude_annotators", "correlation_levels", "correlation_methods")  # tuples; "a,b" from a flag
# the "who counts" choice (annotations.stats.competence): written into a result only when one is made, so a
# default analysis' JSON (`python -m annotations stats --json`, statistics.json) keeps its keys
WHO_COUNTS_FIELDS = ("participants", "competence_measure", "competence_threshold", "use_adjudicated")


@dataclass
class AnalysisOptions:
    """How to turn judgments into conclusions (shown on the page and written into every export)."""

    tie_policy: str = bounded(
        "drop",
        help="how ties count in the win rate: drop | half | separate",
        label="Ties",
        choices=preference.TIE_POLICIES,
    )
    exclude_annotators: tuple[str, ...] = bounded(
        (), help="annotator ids left out (comma-separated)", label="Annotators left out"
    )
    exclude_flagged: bool = bounded(
        False, help="also leave out annotators the quality checks flag", label="Leave out the flagged"
    )
    include_gold: bool = bounded(
        False, help="count gold items in the verdict and agreement", label="Count gold items"
    )
    include_repeats: bool = bounded(
        False, help="count flipped repeats as extra judgments", label="Count repeats"
    )
    n_boot: int = bounded(1000, help="bootstrap resamples for every interval", label="Resamples", min=0)
    seed: int = bounded(0, help="seed of every bootstrap", label="Seed", min=0)
    confidence: float = bounded(0.95, help="interval coverage, e.g. 0.95", label="Coverage", above=0, below=1)
    correlation_levels: tuple[str, ...] = bounded(
        correlation.LEVELS, help="metric-human levels (comma-separated)", label="Correlation levels"
    )
    correlation_methods: tuple[str, ...] = bounded(
        correlation.METHODS, help="coefficients (comma-separated)", label="Coefficients"
    )
    target_half_width: float = bounded(
        0.05, help="win-rate interval half-width to plan for", label="Planned half-width", above=0, max=0.5
    )
    detect_difference: float = bounded(
        0.05, help="win-rate difference from 0.5 to detect", label="Difference to detect", above=0, max=0.5
    )
    participants: str = bounded(
        "keep",
        help="who counts by competence: keep everyone | weight each by competence (the win rate and its "
        "item interval) | exclude those below the competence threshold",
        label="Participants",
        choices=PARTICIPANT_USES,
    )
    competence_measure: str = bounded(
        "mace", help="competence by: mace | dawid_skene", label="Competence by", choices=COMPETENCE_MEASURES
    )
    competence_threshold: float = bounded(
        0.5,
        help="exclude participants whose competence is below this",
        label="Competence threshold",
        min=0,
        max=1,
    )
    use_adjudicated: bool = bounded(
        False, help="use the adjudicated label of an item where one exists", label="Use adjudicated labels"
    )
    thresholds: quality.QualityThresholds = field(
        default_factory=quality.QualityThresholds,
        metadata={"help": "when an annotator is flagged", "label": "Quality thresholds"},
    )

    def __post_init__(self) -> None:
        for name in LIST_FIELDS:  # a flag or a form gives "a,b"; a file gives a list
            value = getattr(self, name)
            if not isinstance(value, list | tuple):
                value = [] if value is None else [v.strip() for v in str(value).split(",") if v.strip()]
            setattr(self, name, tuple(str(v) for v in value))
        if isinstance(self.thresholds, dict):
            self.thresholds = quality.QualityThresholds(**self.thresholds)
        check_limits(self, OptionError)
        for name, allowed in (
            ("correlation_levels", correlation.LEVELS),
            ("correlation_methods", correlation.METHODS),
        ):
            unknown = [v for v in getattr(self, name) if v not in allowed]
            if unknown:
                raise OptionError(f"{name} must be among {', '.join(allowed)}; got {', '.join(unknown)}")
        self.exclude_annotators = tuple(sorted(set(self.exclude_annotators)))


def options_record(options: AnalysisOptions) -> dict:
    """The options as the JSON of a result records them: every field, except the who-counts fields while
    every one of them is at its default (everyone counts, no adjudicated label): then the record is the one
    written before they existed. `AnalysisOptions(**record)` gives the options back either way."""
    record = asdict(options)
    defaults = {f.name: f.default for f in fields(AnalysisOptions) if f.name in WHO_COUNTS_FIELDS}
    if all(record[name] == value for name, value in defaults.items()):
        for name in WHO_COUNTS_FIELDS:
            del record[name]
    return record

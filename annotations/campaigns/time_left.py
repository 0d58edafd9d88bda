"""How long a training run has left: a smoothed estimate with its uncertainty, for the progress bars.

The old estimate, (now - started) / step * steps left, counted the model's loading in the first steps' pace
and moved with every slow or fast step and every validation pause, so it jumped (21:35 -> 25:20 -> 20:00 ->
12:48 min). Here the pace is the mean time per step between the first and the last logged step (loading
excluded; validation pauses spread over the steps), and its uncertainty the standard error of that mean from
the spread of the logged intervals (doubled for a ~95% range), widened while few intervals are known. Early on
the estimate is a range ("4-7 min left"); a new estimate moves by less than the range it replaces as long as
the pace holds. Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_RELATIVE = 0.10  # never claim more than +-10% (the machine's load can change)
FEW = 5  # with fewer logged intervals than this, the range is widened: one or two slow steps say little


@dataclass(frozen=True)
class TimeLeft:
    """Seconds left: the estimate and a range around it (low <= estimate <= high)."""

    estimate_s: float
    low_s: float
    high_s: float

    @property
    def is_range(self) -> bool:
        """Whether the range is wide enough to show as one ("4-7 min") rather than "about 5 min"."""
        return self.high_s - self.low_s > max(0.25 * self.estimate_s, 20)

    def text(self) -> str:
        """'about 5 min left', '4-7 min left', 'under 3 min left', 'under a minute left'."""
        if self.high_s < 60:
            return "under a minute left"
        if self.low_s < 60 and self.is_range:
            return f"under {_duration(self.high_s)} left"
        if not self.is_range:
            return f"about {_duration(self.estimate_s)} left"
        low, high = _duration(self.low_s), _duration(self.high_s)
        return f"{low}-{high} left" if _unit(low) != _unit(high) else f"{_number(low)}-{high} left"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{max(1, round(seconds / 10) * 10):.0f} s"
    if seconds < 5400:
        return f"{round(seconds / 60):.0f} min"
    return f"{seconds / 3600:.1f} h"


def _unit(text: str) -> str:
    return text.split()[-1]


def _number(text: str) -> str:
    return text.split()[0]


@dataclass(frozen=True)
class LogPoint:
    """One train-log row: its step, when it was written (seconds since the epoch), and whether it is a
    validation row (written after that step's validation ran)."""

    step: float
    time: float
    is_eval: bool = False


def estimate(
    points: Sequence[LogPoint], total_steps: int, now: float, eval_every: int = 0
) -> TimeLeft | None:
    """Time left for a run at `now` from its train-log rows, in the order written; None until two training
    rows.

    The pace is the mean seconds per step over the logged training intervals (the first row, which carries the
    model's loading, and the validation pauses are left out); validations still due (every `eval_every` steps)
    add their mean observed duration, or a guess of two steps each with a wide range until one was seen.
    """
    rows = [p for p in points if _finite(p.step) and _finite(p.time)]
    rates, seconds, counted, evals = [], 0.0, 0.0, []
    previous_time, previous_step = None, None
    for row in rows:
        if row.is_eval:
            if previous_time is not None:
                evals.append(max(0.0, row.time - previous_time))
            previous_time = row.time
            continue
        if previous_step is not None and row.step > previous_step and row.time >= previous_time:
            elapsed, steps = row.time - previous_time, row.step - previous_step
            rates.append(elapsed / steps)
            seconds, counted = seconds + elapsed, counted + steps
        previous_time, previous_step = row.time, row.step
    if not rates or total_steps <= 0 or previous_time is None:
        return None
    if eval_every <= 0:
        eval_every = total_steps + 1  # no validation counted
    pace, n = seconds / counted, len(rates)
    spread = _sd(rates) if n > 1 else pace / 4  # one interval: no spread seen yet; a step's usual noise
    last_step = previous_step or 0.0
    steps_left = max(0.0, total_steps - last_step)
    # ~95%: the remaining steps' own noise (it adds up as sqrt(steps)) and the pace's standard error (linear)
    half = 2 * math.sqrt(steps_left * spread**2 + (steps_left * spread / math.sqrt(n)) ** 2)
    relative = MIN_RELATIVE if n >= FEW else max(MIN_RELATIVE, 0.5 / math.sqrt(n))  # few intervals: wide
    half = max(half, steps_left * pace * relative)
    done = {r.step for r in rows if r.is_eval}
    due = [k for k in range(eval_every, total_steps + 1, eval_every) if k >= last_step and k not in done]
    if evals:
        per_eval = _mean(evals)
        eval_half = (
            len(due) * per_eval * max(relative, 2 * (_sd(evals) if len(evals) > 1 else per_eval) / per_eval)
        )
    else:
        per_eval, eval_half = 2 * pace, len(due) * 4 * pace  # not seen yet: a guess with a wide range
    since_last = max(0.0, now - previous_time)
    floor = max(0.0, steps_left - 1) * pace  # an overdue step still leaves the steps after it
    middle = max(steps_left * pace + len(due) * per_eval - since_last, floor)
    low = max(0.0, middle - half - eval_half)
    high = middle + half + eval_half
    return TimeLeft(middle, max(0.0, low), high)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _sd(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))

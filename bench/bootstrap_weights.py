"""The shared bootstrap weights of the one resampling engine (ft_core/resampling.py: item_weights, integer
draws counted with bincount) drawn one resample per call (as before issue 11's last session), a small block
per call, and a large one (now), alone and beside a thread that runs Python (as the results page's other
analysis stage does): each call hands the GIL over and waits up to Python's switch interval to get it back.
Then the other method, a multinomial draw of the item counts (what ft_core/significance.py drew before issue
19), against the engine's. Prints the seconds of each and the ratios, measured side by side in this one run,
and checks the block sizes give the same weights.

    python bench/bootstrap_weights.py [--items 27265] [--boot 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ft_core import resampling  # noqa: E402

SMALL = 2**19  # about half a million draws per call: the first version of the block drawing


def draw(n_items: int, n_boot: int, per_call: int, busy: bool) -> tuple[float, np.ndarray]:
    """Seconds to draw the weights with `per_call` numbers per call, with or without a busy Python thread."""
    stop = threading.Event()

    def spin() -> None:
        x = 0
        while not stop.is_set():
            x += 1

    other = threading.Thread(target=spin)
    if busy:
        other.start()
    resampling.DRAWS_PER_CALL = per_call
    resampling.item_weights.cache_clear()
    started = time.perf_counter()
    weights = resampling.item_weights(n_items, n_boot, 0)
    seconds = time.perf_counter() - started
    stop.set()
    if busy:
        other.join()
    return seconds, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=27_265)  # the items of bench/analysis_scale.py's verdict
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    large = resampling.DRAWS_PER_CALL
    print(f"{args.boot} x {args.items:,} weights; median of {args.repeats}")
    sizes = {"per resample": 1, "small calls": SMALL, "large calls": large}  # 1: one resample (row) per call
    print(f"{'':<28}" + "".join(f"{name:>14}" for name in sizes) + "  ratio first/last")
    for busy in (False, True):
        seconds: dict[str, list[float]] = {name: [] for name in sizes}
        for repeat in range(args.repeats):
            drawn = []
            order = (
                list(sizes.items()) if repeat % 2 == 0 else list(sizes.items())[::-1]
            )  # no size always first
            for name, per_call in order:
                s, weights = draw(args.items, args.boot, per_call, busy)
                seconds[name].append(s)
                drawn.append(weights)
            assert all(np.array_equal(drawn[0], w) for w in drawn), "the block size changed the weights"
        medians = [statistics.median(seconds[name]) for name in sizes]
        label = "beside a busy Python thread" if busy else "alone"
        print(f"{label:<28}" + "".join(f"{m:13.2f}s" for m in medians) + f"  {medians[0] / medians[-1]:6.1f}")
    resampling.DRAWS_PER_CALL = large
    engine, other = [], []
    for repeat in range(args.repeats):
        for method in ("engine", "multinomial") if repeat % 2 == 0 else ("multinomial", "engine"):
            if method == "engine":
                engine.append(draw(args.items, args.boot, large, busy=False)[0])
            else:
                other.append(multinomial(args.items, args.boot))
    print(f"{'':<28}{'multinomial':>14}{'engine':>14}  ratio multinomial/engine")
    slow, fast = statistics.median(other), statistics.median(engine)
    print(f"{'multinomial / engine, alone':<28}{slow:13.2f}s{fast:13.2f}s  {slow / fast:6.1f}")


def multinomial(n_items: int, n_boot: int) -> float:
    """Seconds to draw the same kind of weights as a multinomial over n_items equal cells (the other way)."""
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    weights = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(float)
    seconds = time.perf_counter() - started
    assert weights.shape == (n_boot, n_items) and (weights.sum(axis=1) == n_items).all()
    return seconds


if __name__ == "__main__":
    main()

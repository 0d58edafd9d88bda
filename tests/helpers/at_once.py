"""Calls that race: one action started on several threads together, for the tests of locks, queues and
throttles."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
A = TypeVar("A")


def at_once(action: Callable[[A], T], arguments: Iterable[A]) -> list[T | Exception]:
    """Call `action(argument)` for every argument, each on a thread of its own, all started before any is
    waited for; returns what each call returned, or the exception it raised, in the order of `arguments`."""
    arguments = list(arguments)
    outcomes: list[T | Exception] = [None] * len(arguments)  # type: ignore[list-item]

    def call(number: int, argument: A) -> None:
        try:
            outcomes[number] = action(argument)
        except Exception as e:  # the test looks at it
            outcomes[number] = e

    threads = [threading.Thread(target=call, args=pair) for pair in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def raised(outcomes: list) -> list[Exception]:
    """The exceptions among `at_once`'s outcomes."""
    return [o for o in outcomes if isinstance(o, Exception)]

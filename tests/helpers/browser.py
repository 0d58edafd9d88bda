"""Waiting on a Streamlit page in a (sync) Playwright browser, shared by the tests/e2e suites."""

from __future__ import annotations


def settle(page, first_wait_ms: int = 150) -> None:
    """Wait until the script run is over and no element is stale (Streamlit redraws element by element)."""
    page.wait_for_timeout(first_wait_ms)
    for _ in range(300):
        if (
            page.locator("[data-testid='stStatusWidget']").count() == 0
            and page.locator("[data-stale='true']").count() == 0
        ):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the app kept running")

"""Waiting for a condition with a deadline."""
from __future__ import annotations

import time


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    """predicate()'s first true value, asked every `interval` s; AssertionError after
    `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)

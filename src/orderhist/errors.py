"""The tool's one error family and the exit codes the CLI maps it to.

Every error orderhist raises on purpose derives from `OrderhistError` and carries the exit
code it means, so the CLI reports each in one line without knowing the module it came from.
No imports: this module ships in the Lambda function's zip beside `records`.
"""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What `orderhist`'s exit status means, in one place."""

    OK = 0
    FAILURE = 1      # an operational failure: AWS refused, a timeout, lines missing
    USAGE = 2        # bad input: an option, a config file, a dataset, a path
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class OrderhistError(RuntimeError):
    """An operational failure: exit 1 with this one-line message (AWS error, timeout, ...)."""

    exit_code: ExitCode = ExitCode.FAILURE


class UsageProblem(OrderhistError, ValueError):
    """Bad input found past click's own checks (a config file, a dataset): exit 2."""

    exit_code = ExitCode.USAGE


class RecordError(UsageProblem):  # a ValueError too: parsers' callers catch that
    """A line that cannot be an order line; the message is the reason a reject carries.
    Here, not in records, because the log line's escape (textescape) raises it too."""

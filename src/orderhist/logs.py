"""Logging for the long-running processes (agent, runtime): one line per event on stderr,
which `up` sends to the process's log file. Left alone when the host program set logging up."""
from __future__ import annotations

import logging
import sys
import time


def configure(logger_name: str, label: str = "") -> None:
    logger = logging.getLogger(logger_name)
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    prefix = f"{label}: " if label else ""
    # UTC, ISO 8601 with milliseconds: the stamp `orderhist logs` sorts every source by.
    formatter = logging.Formatter(f"%(asctime)s %(levelname)s {prefix}%(message)s")
    formatter.converter = time.gmtime
    formatter.default_time_format = "%Y-%m-%dT%H:%M:%S"  # (a datefmt would drop the ms)
    formatter.default_msec_format = "%s.%03dZ"
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

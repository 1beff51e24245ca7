"""Logging for the long-running processes (agent, runtime): one line per event on stderr,
which `up` sends to the process's log file. Left alone when the host program set logging up."""
from __future__ import annotations

import logging
import sys


def configure(logger_name: str, label: str = "") -> None:
    logger = logging.getLogger(logger_name)
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    prefix = f"{label}: " if label else ""
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {prefix}%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

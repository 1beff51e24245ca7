"""The function's own log, as CloudWatch Logs keeps it for a Lambda function: every line a
container prints, stamped with the moment the runtime read it, one file per function
(`<work_dir>/logs/<function>.log`, which `orderhist logs function` reads).

A container's stderr is a pipe that one thread per container drains line by line, so a line
is kept even when the container is killed a moment later (a timeout, a crash), and the
runtime's own lines about that container (a timeout's END and REPORT) are written after
everything the container said.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from orderhist.records import utc_now_iso_ms

log = logging.getLogger("orderhist.runtime")

LOG_DIR = "logs"
_append_lock = threading.Lock()  # containers of several shards share a function's file


def function_log_path(work_dir: Path, function_name: str) -> Path:
    return Path(work_dir) / LOG_DIR / f"{function_name}.log"


def append(path: Path, lines: list[str]) -> None:
    """Each line stamped `<ISO 8601 UTC ms> <line>`; line breaks inside one are escaped so a
    line stays one line."""
    stamp = utc_now_iso_ms()
    text = "".join(f"{stamp} {line.rstrip(chr(10)).replace(chr(10), ' ')}\n" for line in lines)
    with _append_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: a line written by another runtime's container lands whole after ours.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, text.encode("utf-8", "replace"))
        finally:
            os.close(fd)


class Pump:
    """Drains one container's stderr into the function's log until the container exits."""

    def __init__(self, stream, path: Path):
        self.path = path
        self._stream = stream
        self._thread = threading.Thread(target=self._run, daemon=True, name="function-log")
        self._thread.start()

    def _run(self) -> None:
        failed = False
        try:
            for raw in iter(self._stream.readline, b""):
                try:
                    append(self.path, [raw.decode("utf-8", "replace")])
                except OSError as error:
                    # Keep draining even so: a container blocked on a full pipe would hang
                    # its invocation until the timeout. Say it once, on the runtime's log.
                    if not failed:
                        log.error("cannot write the function's log %s: %s", self.path, error)
                        failed = True
        except (OSError, ValueError):  # the pipe was closed under us: the container is gone
            pass
        finally:
            try:
                self._stream.close()
            except OSError:
                pass

    def drain(self, timeout: float = 2.0) -> None:
        """Wait until the container's last line is written (it has exited)."""
        self._thread.join(timeout)

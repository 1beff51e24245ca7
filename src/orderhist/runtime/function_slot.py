"""One function's current spec, shared by the pollers of its mappings: the supervisor
refreshes it, each poller reads it before invoking."""
from __future__ import annotations

import threading

from orderhist.errors import OrderhistError
from orderhist.runtime.worker import FunctionSpec


class FunctionUnavailable(OrderhistError):
    """The function cannot be run right now (code not loaded, not found): not an
    invocation, so it neither counts as a retry nor gives records up."""


class FunctionSlot:
    """The current spec of one function, shared by its pollers and updated by the
    supervisor; each poller swaps its container when the spec changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spec: FunctionSpec | None = None
        self.env: dict[str, str] | None = None
        self.error: str | None = None

    def set(self, spec: FunctionSpec, env: dict[str, str]) -> None:
        with self._lock:
            self.spec, self.env, self.error = spec, env, None

    def fail(self, error: str, *, gone: bool = False) -> None:
        """Record why the spec could not be refreshed. A passing problem (the emulator
        restarting) keeps the known spec running; a deleted function stops being run."""
        with self._lock:
            self.error = error
            if gone:
                self.spec = self.env = None

    def current(self) -> tuple[FunctionSpec | None, dict[str, str] | None, str | None]:
        with self._lock:
            return self.spec, self.env, self.error

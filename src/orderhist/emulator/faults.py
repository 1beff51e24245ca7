"""Seeded fault injection on the data plane (`orderhist up --faults RATE [--fault-seed S]`).

At rate r: each PutRecords entry fails with ProvisionedThroughputExceededException (and is not
stored), each BatchWriteItem request comes back in UnprocessedItems (and is not written),
each GetRecords call is throttled; and a whole call of any of the three fails with a 500 at
r / 10. Provisioning and reads of the table are never touched: the faults exercise exactly
the retry paths of the agent, the Lambda handler and the runtime.

Each operation draws from its own generator seeded from (seed, operation), so a run can be
replayed: the n-th PutRecords call of a run gets the same faults whatever the other
operations did in between. (Concurrent callers of one operation still race for the order.)
"""
from __future__ import annotations

import random
import threading
from collections import Counter

from orderhist.errors import UsageProblem

OPERATIONS = ("PutRecords", "BatchWriteItem", "GetRecords")
SERVER_ERROR_SHARE = 0.1


class FaultInjector:
    def __init__(self, rate: float = 0.0, seed: int | None = 0):
        self._lock = threading.Lock()
        self.configure(rate, seed)

    def configure(self, rate: float, seed: int | None) -> None:
        if not 0.0 <= rate < 1.0:
            raise UsageProblem(f"a fault rate is a fraction in [0, 1), not {rate}")
        with self._lock:
            self.rate = rate
            self.seed = int(seed) if seed is not None else getattr(self, "seed", 0)
            self._draws = {op: random.Random(f"{self.seed}:{op}") for op in OPERATIONS}
            self.injected: Counter = Counter()

    @property
    def active(self) -> bool:
        return self.rate > 0.0

    def server_error(self, operation: str) -> bool:
        """Whether this whole call fails with a 500."""
        if not self.rate:
            return False
        with self._lock:
            hit = self._draws[operation].random() < self.rate * SERVER_ERROR_SHARE
            if hit:
                self.injected[f"{operation}:500"] += 1
        return hit

    def throttled(self, operation: str) -> bool:
        if not self.rate:
            return False
        with self._lock:
            hit = self._draws[operation].random() < self.rate
            if hit:
                self.injected[f"{operation}:throttled"] += 1
        return hit

    def failed_entries(self, operation: str, count: int) -> list[bool]:
        """One draw per entry: True for each entry that fails."""
        if not self.rate:
            return [False] * count
        with self._lock:
            draw = self._draws[operation].random
            fails = [draw() < self.rate for _ in range(count)]
            failed = sum(fails)
            if failed:
                self.injected[f"{operation}:entries"] += failed
        return fails

    def describe(self) -> str:
        return f"rate {self.rate} seed {self.seed}" if self.rate else "off"

    def report(self) -> dict:
        with self._lock:
            return {"rate": self.rate, "seed": self.seed, "injected": dict(self.injected)}

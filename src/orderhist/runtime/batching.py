"""The retry and bisection rules of a Kinesis mapping, kept free of I/O so they can be
tested on their own. The poller asks how big the next batch is, invokes, and reports back;
the planner answers what to checkpoint, what to give up on and how long to wait."""
from __future__ import annotations

from dataclasses import dataclass, field

from orderhist.runtime.events import OK, PARTIAL

RETRY_EXHAUSTED = "RetryAttemptsExhausted"
AGE_EXCEEDED = "RecordAgeExceeded"
MAX_RETRY_DELAY = 5.0


@dataclass
class Decision:
    succeeded: int = 0      # records at the front of the batch that are done
    discarded: int = 0      # the records after those that are given up on
    invoke_count: int = 0   # how often the discarded records were invoked as that batch
    delay: float = 0.0      # wait before the next attempt


def retry_delay(attempt: int) -> float:
    return min(0.1 * 2 ** max(attempt - 1, 0), MAX_RETRY_DELAY)


@dataclass
class Planner:
    # Sizes of the batches already decided on at the front of the shard: a batch being
    # retried keeps its records, and a bisected one becomes two halves processed in turn,
    # neither topped up with newer records.
    forced: list[int] = field(default_factory=list)
    # Failed invocations of the batch at the front in its current shape; bisection starts
    # the count again (AWS does not count a split as a retry).
    attempts: int = 0

    @property
    def retrying(self) -> bool:
        return bool(self.forced)

    def next_size(self, available: int, batch_size: int) -> int:
        return min(self.forced[0] if self.forced else batch_size, available)

    def drop(self, count: int) -> None:
        """`count` records at the front left without an invocation (too old)."""
        self._consume(count)
        self.attempts = 0

    def decide(self, size: int, outcome: str, index: int | None, *, bisect: bool,
               max_retries: int) -> Decision:
        if outcome == OK:
            self._consume(size)
            self.attempts = 0
            return Decision(succeeded=size)
        # The records before a reported failure are done; the rest is what failed.
        start = index if outcome == PARTIAL and index else 0
        rest = size - start
        if start:
            self._consume(start)
            self.attempts = 0
            if self.forced:
                self.forced.pop(0)
            if bisect:
                # "Bisected at the returned sequence number": the rest is retried alone.
                self.forced.insert(0, rest)
            # Without bisection AWS re-reads from the checkpoint: a fresh, full batch.
        elif bisect and rest > 1:
            half = rest // 2
            self._set_front([half, rest - half])
            self.attempts = 0
            return Decision()
        else:
            self._set_front([rest])
        self.attempts += 1
        if max_retries >= 0 and self.attempts > max_retries:
            count = self.attempts
            if bisect or not start:
                self._consume(rest)
            self.attempts = 0
            return Decision(succeeded=start, discarded=rest, invoke_count=count)
        return Decision(succeeded=start, delay=retry_delay(self.attempts))

    def _consume(self, count: int) -> None:
        while count > 0 and self.forced:
            taken = min(count, self.forced[0])
            self.forced[0] -= taken
            count -= taken
            if self.forced[0] == 0:
                self.forced.pop(0)

    def _set_front(self, sizes: list[int]) -> None:
        """Make `sizes` the next batches; whatever the old front batch held beyond them
        stays decided as a batch of its own."""
        total = sum(sizes)
        if self.forced:
            remainder = self.forced.pop(0) - total
            if remainder > 0:
                self.forced.insert(0, remainder)
        self.forced[0:0] = sizes

"""The flow's buffer and its PutRecords calls.

One call is in flight per flow, so a file's lines reach the stream in file order; while it
is in flight the tailer fills the next batch, which is what keeps a large file shipping at
the emulator's (or the shard's) speed. Records that fail, alone or with their whole call,
wait out an exponential backoff with jitter and then go before anything newer still
waiting. While they wait, newer records keep going unless most of the last call was refused
(then the stream is refusing, not shedding a few, and everything waits): so a shard that
throttles a tenth of the entries costs a tenth of the throughput, not a backoff per batch.
Like the real agent's concurrent senders, a retried record can land after newer ones; the
checkpoint only moves over an unbroken run of accepted lines, so a crash loses nothing.
Nothing is ever dropped: a record is either accepted or still here (and not checkpointed)
at exit.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from orderhist import aws_errors
from orderhist.agent.checkpoint import Ticket
from orderhist.agent.config import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, FlowConfig
from orderhist.agent.stats import FlowStats, utc_now

log = logging.getLogger("orderhist.agent")

JITTER = 0.3  # ±30 %, as the real agent
# A call with at least this share of its entries refused holds back newer records as well.
STALL_SHARE = 0.5


class PutRecordsClient(Protocol):
    """The one call made on the Kinesis client (boto3 has no type information here); a test's
    fault-injecting wrapper provides it too."""

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        ...


@dataclass(eq=False, slots=True)
class OutgoingRecord:
    data: bytes
    partition_key: str
    size: int  # data and key, as Kinesis counts them against its limits
    ticket: Ticket
    queued_at: float = field(default=0.0)


class Sender:
    def __init__(self, flow: FlowConfig, client: PutRecordsClient, stats: FlowStats,
                 on_progress: Callable[[], None] | None = None):
        self.flow = flow
        self.on_progress = on_progress  # called after records were accepted
        self.client = client
        self.stats = stats
        self.batch_records = min(flow.max_buffer_records, MAX_BATCH_RECORDS)
        self.batch_bytes = min(flow.max_buffer_bytes, MAX_BATCH_BYTES)
        self.max_age = flow.max_buffer_age_ms / 1000
        # Room for the batch being filled while one is in flight; beyond that the tailer
        # stops reading (not watching), so memory stays bounded however far behind the
        # stream is: this much plus one read chunk.
        self.capacity_records = 2 * MAX_BATCH_RECORDS
        self.capacity_bytes = 2 * MAX_BATCH_BYTES
        self._cond = threading.Condition()
        self._fresh: deque[OutgoingRecord] = deque()
        self._fresh_bytes = 0
        self._retry: deque[OutgoingRecord] = deque()
        self._retry_due = 0.0
        self._fresh_due = 0.0
        # Grows by 1 for a failed call and by the failed share for a partial failure, shrinks
        # tenfold on a call that was mostly accepted: a few throttled entries do not slow
        # the flow as much as a shard refusing everything (the real agent's rule, with a
        # mostly-accepted call counted as the success it is).
        self._failures = 0.0
        self._in_flight = 0
        self._closing = False
        self._abandoned = False
        self._random = random.Random()
        self.failure: BaseException | None = None

    # -------------------------------------------------------------------------- producer side

    def has_room(self) -> bool:
        """Whether the tailer may read more. It asks instead of blocking, so it goes on
        watching the files (new ones, renames, truncations) while the stream is slow."""
        with self._cond:
            return (len(self._fresh) + len(self._retry) < self.capacity_records
                    and self._fresh_bytes < self.capacity_bytes)

    def submit(self, record: OutgoingRecord) -> None:
        with self._cond:
            record.queued_at = time.monotonic()
            self._fresh.append(record)
            self._fresh_bytes += record.size
            if (len(self._fresh) == 1 or len(self._fresh) >= self.batch_records
                    or self._fresh_bytes >= self.batch_bytes):
                self._cond.notify_all()
            self.stats.buffered_records = self._pending_count()

    def close(self, timeout: float, give_up: threading.Event | None = None) -> bool:
        """Send what is buffered within `timeout` seconds (or until `give_up` is set); True
        if everything was accepted."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        while (self._thread.is_alive() and time.monotonic() < deadline
               and not (give_up is not None and give_up.is_set())):
            self._thread.join(0.05)
        if self._thread.is_alive():
            self.abandon()
            self._thread.join(2.0)
        with self._cond:
            return not self._pending_count()

    def abandon(self) -> None:
        """Stop at once; what is unsent stays unacknowledged and is read again next start."""
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"sender:{self.flow.stream}",
                                        daemon=True)
        self._thread.start()
        return self._thread

    # -------------------------------------------------------------------------- sending side

    def run(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                self._send(batch)
        except BaseException as error:  # a bug: the runner sees `failure` and stops cleanly
            log.exception("the sender for %s failed", self.flow.stream)
            self.failure = error

    def _pending_count(self) -> int:
        return len(self._fresh) + len(self._retry) + self._in_flight

    def _next_batch(self) -> list[OutgoingRecord] | None:
        with self._cond:
            while True:
                if self._abandoned:
                    return None
                now = time.monotonic()
                if self._retry and now >= self._retry_due:
                    return self._take(self._retry, counts_fresh=False)
                wake_at = [self._retry_due] if self._retry else []
                if self._fresh:
                    if now < self._fresh_due:
                        wake_at.append(self._fresh_due)
                    else:
                        due = self._fresh[0].queued_at + self.max_age
                        if (self._closing or now >= due
                                or len(self._fresh) >= self.batch_records
                                or self._fresh_bytes >= self.batch_bytes):
                            return self._take(self._fresh, counts_fresh=True)
                        wake_at.append(due)
                elif self._closing and not self._retry:
                    return None
                self._cond.wait(min(wake_at) - now if wake_at else None)

    def _take(self, queue: deque[OutgoingRecord], counts_fresh: bool) -> list[OutgoingRecord]:
        # Retries go alone (never mixed with newer records), so they stay ahead of them.
        batch: list[OutgoingRecord] = []
        size = 0
        while queue and len(batch) < self.batch_records:
            record = queue[0]
            if batch and size + record.size > self.batch_bytes:
                break
            batch.append(queue.popleft())
            size += record.size
        if counts_fresh:
            self._fresh_bytes -= size
            self._cond.notify_all()  # room for the tailer again
        self._in_flight = len(batch)
        return batch

    def _send(self, batch: list[OutgoingRecord]) -> None:
        self.stats.put_calls += 1
        started = time.monotonic()
        try:
            try:
                reply = self.client.put_records(
                    StreamName=self.flow.stream,
                    Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in batch],
                )
            finally:
                self.stats.put_seconds += time.monotonic() - started
            results = reply.get("Records") or []
            if len(results) != len(batch):
                raise RuntimeError(f"PutRecords answered {len(results)} results for "
                                   f"{len(batch)} records")
        except Exception as error:  # whole call failed: throttled, 5xx, network, bad stream
            self.stats.failed_calls += 1
            self._requeue(batch, 1.0, f"PutRecords failed: {aws_errors.describe(error)}")
            return
        failed = []
        sent_bytes = 0
        for record, result in zip(batch, results):
            if result.get("ErrorCode") or not result.get("SequenceNumber"):
                failed.append((record, result))
            else:
                record.ticket.accept()
                sent_bytes += record.size
        self.stats.records_sent += len(batch) - len(failed)
        self.stats.bytes_sent += sent_bytes
        if failed:
            self.stats.partial_failures += 1
            first = failed[0][1]
            codes = sorted({r.get("ErrorCode") or "NoSequenceNumber" for _, r in failed})
            self._requeue([r for r, _ in failed], len(failed) / len(batch),
                          f"{len(failed)} of {len(batch)} records failed "
                          f"({', '.join(codes)}: {first.get('ErrorMessage', '')})".rstrip())
        else:
            with self._cond:
                self._failures /= 10
                self._in_flight = 0
                self.stats.buffered_records = self._pending_count()
        if len(batch) > len(failed):
            self.stats.last_sent_at = utc_now()
            if self.on_progress is not None:
                self.on_progress()  # a checkpoint can move now

    def _requeue(self, records: list[OutgoingRecord], failed_share: float,
                 message: str) -> None:
        with self._cond:
            if failed_share < STALL_SHARE:
                # Most of the call went through: the stream works, a few entries were shed.
                # Counting that as a success keeps a steady trickle of throttles from
                # pushing the retry delay to its maximum.
                self._failures /= 10
            self._failures += failed_share
            delay = self._backoff(self._failures)
            self._retry.extendleft(reversed(records))
            self._retry_due = time.monotonic() + delay
            if failed_share >= STALL_SHARE:
                # The stream is refusing, not shedding a few entries: newer records wait too.
                self._fresh_due = self._retry_due
            self._in_flight = 0
            self.stats.buffered_records = self._pending_count()
        self.stats.retries += len(records)
        self.stats.note_error(message)
        log.warning("%s: %s; retrying %d in %d ms", self.flow.stream, message, len(records),
                    round(delay * 1000))

    def _backoff(self, failures: float) -> float:
        base = min(self.flow.retry_max_ms,
                   self.flow.retry_initial_ms * 2 ** min(max(failures - 1, 0.0), 30.0))
        return base * self._random.uniform(1 - JITTER, 1 + JITTER) / 1000

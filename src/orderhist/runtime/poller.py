"""One shard of one mapping: read, batch, invoke, decide, checkpoint. A thread per shard, so
shards are processed in parallel and each in order, as AWS does."""
from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from orderhist import aws_errors
from orderhist.runtime import events
from orderhist.runtime.batching import AGE_EXCEEDED, RETRY_EXHAUSTED, Planner, retry_delay
from orderhist.runtime.checkpoint import Checkpoint
from orderhist.runtime.destinations import Destinations
from orderhist.runtime.function_log import function_log_path
from orderhist.runtime.function_slot import FunctionSlot, FunctionUnavailable
from orderhist.runtime.mappings import MappingConfig
from orderhist.runtime.stats import ShardStats
from orderhist.runtime.worker import Worker

log = logging.getLogger("orderhist.runtime")

IDLE_POLL_S = 0.1
# An idle poll should cost the source little: stock moto walks the whole shard on every
# GetRecords (87 ms at 500,000 records), so idle polls wait up to this many times as long as
# the last read took. A read is also slow when the emulator is merely busy, so the wait is
# capped: latency never grows by more than the cap.
IDLE_COST_FACTOR = 9
MAX_IDLE_WAIT_S = 0.5
# Read ahead of the batch: moto walks a shard from its start on every GetRecords, so fewer,
# larger reads cost the emulator much less.
READ_AHEAD = 500
GET_RECORDS_LIMIT = 10_000
MAX_ERROR_BACKOFF_S = 5.0


class ShardPoller:
    def __init__(self, *, mapping: MappingConfig, shard_id: str, ending_sequence: str | None,
                 function: FunctionSlot, kinesis, destinations: Destinations, work_dir: Path):
        # The supervisor replaces these two when the mapping or the shard changes.
        self.mapping = mapping
        self.ending_sequence = ending_sequence
        self.shard_id = shard_id
        self.function = function
        self.kinesis = kinesis
        self.destinations = destinations
        self.checkpoint = Checkpoint(work_dir, mapping.uuid, shard_id)
        self.work_dir = work_dir  # where the function's log is kept
        self.stats = ShardStats(mapping.uuid, mapping.function_arn, mapping.stream_arn, shard_id,
                                checkpoint=self.checkpoint.sequence)
        self.finished = self.checkpoint.finished
        self.planner = Planner()
        self.pending: deque[dict] = deque()
        self.iterator: str | None = None
        self.fetched_through: str | None = None
        self.end_of_shard = False
        self.first_buffered_at: float | None = None
        self.last_read_s = 0.0
        self.worker: Worker | None = None
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"read-{shard_id}")
        self.read_ahead: tuple[Future, int] | None = None
        self._overhead_key: tuple[str, str] | None = None
        self._overhead = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"poller-{mapping.uuid[:8]}-{shard_id}")

    # Control, from the supervisor's thread --------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def abort(self) -> None:
        """Give up an in-flight invocation (shutdown grace is over): nothing is checkpointed
        for it, so it is delivered again after a restart."""
        self.stop_event.set()
        worker = self.worker
        if worker is not None:
            worker.abort()

    def snapshot(self) -> ShardStats:
        self.stats.pending_records = len(self.pending)
        self.stats.checkpoint = self.checkpoint.sequence
        self.stats.finished = self.finished
        return self.stats

    # The loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        try:
            self._warm()
            while not self.stop_event.is_set() and not self.finished:
                try:
                    busy = self._step()
                    failures = 0
                except Exception as error:  # AWS errors, a lost emulator, a missing function
                    failures += 1
                    message = f"{type(error).__name__}: {error}"
                    if failures == 1 or failures % 20 == 0:
                        log.warning("%s %s: %s", self.mapping.stream_name, self.shard_id, message)
                    self.stats.error(message, function_error=False)
                    self.iterator = None
                    self.read_ahead = None
                    self.stop_event.wait(min(0.1 * 2 ** failures, MAX_ERROR_BACKOFF_S))
                    continue
                if not busy:
                    self.stop_event.wait(self._idle_wait())
        finally:
            self.reader.shutdown(wait=False, cancel_futures=True)
            if self.worker is not None:
                self.worker.close()

    def _idle_wait(self) -> float:
        return min(max(IDLE_POLL_S, IDLE_COST_FACTOR * self.last_read_s), MAX_IDLE_WAIT_S)

    def _step(self) -> bool:
        """One round; True if there was something to do (so the next round comes at once)."""
        mapping = self.mapping
        fetched = False
        if self.read_ahead is not None:
            fetched = self._collect_read_ahead()
        elif len(self.pending) < mapping.batch_size and not self.end_of_shard:
            fetched = self._fetch(mapping)
        if not self.pending:
            if self._shard_done():
                self._finish()
            return fetched
        if not self.planner.retrying and not self._window_closed(mapping):
            return fetched
        batch = self._take(mapping)
        if mapping.max_age_s >= 0 and self._drop_expired(mapping, batch):
            return True
        self._start_read_ahead(mapping, len(self.pending) - len(batch))
        self._invoke(mapping, batch)
        return True

    # Reading ---------------------------------------------------------------------------------

    def _fetch(self, mapping: MappingConfig) -> bool:
        if self.iterator is None:
            self.iterator = self._new_iterator(mapping)
        limit = self._limit(mapping)
        return self._apply(self._read(self.iterator, limit), limit)

    def _start_read_ahead(self, mapping: MappingConfig, left: int) -> None:
        """Read the next records while the function runs, so the shard's reads do not add
        to each batch's time. Only the read happens on the other thread; its result is
        applied here, on the poller's own, before the next batch is taken."""
        if left >= mapping.batch_size or self.end_of_shard or self.iterator is None:
            return
        limit = self._limit(mapping)
        self.read_ahead = (self.reader.submit(self._read, self.iterator, limit), limit)

    def _collect_read_ahead(self) -> bool:
        # _step calls this only while a read ahead is pending.
        future, limit = self.read_ahead  # type: ignore[misc]
        self.read_ahead = None
        return self._apply(future.result(), limit)

    @staticmethod
    def _limit(mapping: MappingConfig) -> int:
        return min(GET_RECORDS_LIMIT, max(mapping.batch_size, READ_AHEAD))

    def _read(self, iterator: str, limit: int) -> dict | None:
        started = time.monotonic()
        try:
            return self.kinesis.get_records(ShardIterator=iterator, Limit=limit)
        except Exception as error:
            if aws_errors.kind(error) == aws_errors.EXPIRED:
                return None
            raise
        finally:
            self.last_read_s = time.monotonic() - started

    def _apply(self, reply: dict | None, limit: int) -> bool:
        if reply is None:  # the iterator expired: make a new one from what was read
            self.iterator = None
            return False
        records = reply.get("Records", [])
        behind = reply.get("MillisBehindLatest")
        self.iterator = reply.get("NextShardIterator")
        self.end_of_shard = self.iterator is None
        self.stats.millis_behind_latest = behind
        self.stats.caught_up = len(records) < limit and not behind
        if records:
            self.fetched_through = records[-1]["SequenceNumber"]
            kept = [r for r in records if self.mapping.record_filter.passes(r["Data"])]
            self.stats.records_filtered += len(records) - len(kept)
            if not kept and not self.pending:
                # Nothing before them is left to do: the shard moves past what was dropped.
                self.checkpoint.advance(records[-1]["SequenceNumber"])
            if kept and not self.pending:
                self.first_buffered_at = time.monotonic()
            self.pending.extend(kept)
        return bool(records)

    def _new_iterator(self, mapping: MappingConfig) -> str:
        request: dict[str, str | float] = {"StreamName": mapping.stream_name,
                                           "ShardId": self.shard_id}
        after = self.fetched_through or self.checkpoint.sequence
        if after:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        elif self.checkpoint.start_timestamp is not None:
            request.update(ShardIteratorType="AT_TIMESTAMP",
                           Timestamp=self.checkpoint.start_timestamp)
        elif mapping.starting_position == "LATEST":
            # Pin "latest" to a moment, durably, so a restart resumes from the same place.
            moment = time.time()
            self.checkpoint.fix_start(moment)
            request.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=moment)
        elif mapping.starting_position == "AT_TIMESTAMP" and mapping.starting_timestamp:
            request.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=mapping.starting_timestamp)
        else:
            if mapping.starting_position == "AT_TIMESTAMP":
                # moto 5.2 stores StartingPositionTimestamp but never returns it: deliver too
                # much rather than skip.
                log.warning("%s %s: AT_TIMESTAMP without a timestamp; reading from the "
                            "oldest record", mapping.stream_name, self.shard_id)
            request.update(ShardIteratorType="TRIM_HORIZON")
        return self.kinesis.get_shard_iterator(**request)["ShardIterator"]

    def _shard_done(self) -> bool:
        if self.end_of_shard:
            return True
        if self.ending_sequence is None:
            return False
        return int(self.checkpoint.sequence or 0) >= int(self.ending_sequence)

    def _finish(self) -> None:
        self.checkpoint.finish()
        self.finished = True
        log.info("%s %s: closed shard read to its end", self.mapping.stream_name, self.shard_id)

    # Batching --------------------------------------------------------------------------------

    def _window_closed(self, mapping: MappingConfig) -> bool:
        if mapping.window_s <= 0 or len(self.pending) >= mapping.batch_size or self.end_of_shard:
            return True
        overhead = self._record_overhead(mapping)
        size = events.ENVELOPE_OVERHEAD + sum(events.record_size(r, overhead)
                                              for r in self.pending)
        if size >= events.PAYLOAD_LIMIT:
            return True
        return time.monotonic() - (self.first_buffered_at or 0.0) >= mapping.window_s

    def _take(self, mapping: MappingConfig) -> list[dict]:
        count = self.planner.next_size(len(self.pending), mapping.batch_size)
        batch: list[dict]
        batch, size = [], events.ENVELOPE_OVERHEAD
        overhead = self._record_overhead(mapping)
        for record in itertools.islice(self.pending, count):
            size += events.record_size(record, overhead)
            if batch and size > events.PAYLOAD_LIMIT:
                break
            batch.append(record)
        return batch

    def _record_overhead(self, mapping: MappingConfig) -> int:
        # The role ARN is in every record: the function's, or IAM's longest if not loaded yet.
        spec = self.function.current()[0]
        role = spec.role if spec else "arn:aws:iam::000000000000:role/" + "r" * 64
        key = (mapping.stream_arn, role)
        if self._overhead_key != key:
            self._overhead_key = key
            self._overhead = events.record_overhead(self.shard_id, mapping.stream_arn,
                                                    mapping.region, role)
        return self._overhead

    def _drop_expired(self, mapping: MappingConfig, batch: list[dict]) -> bool:
        now = time.time()
        expired = list(itertools.takewhile(
            lambda r: now - events.arrival_epoch(r) > mapping.max_age_s, batch))
        if not expired:
            return False
        invoked = self.planner.attempts
        self.planner.drop(len(expired))
        self._give_up(mapping, expired, AGE_EXCEEDED, invoked, request_id=str(uuid.uuid4()),
                      function_error=None)
        return True

    # Invoking --------------------------------------------------------------------------------

    def _warm(self) -> None:
        try:
            worker = self._current_worker()
        except FunctionUnavailable:
            return
        worker.warm()

    def _current_worker(self) -> Worker:
        spec, env, error = self.function.current()
        if spec is None:
            if self.worker is not None:  # the function was deleted: its container goes too
                self.worker.close()
                self.worker = None
            raise FunctionUnavailable(error or "the function is not loaded yet")
        if self.worker is None or self.worker.spec != spec:
            if self.worker is not None:
                self.worker.close()
            # env is set and cleared with spec (FunctionSlot.set, fail): not None here.
            self.worker = Worker(spec, env,  # type: ignore[arg-type]
                                 function_log_path(self.work_dir, spec.name))
        return self.worker

    def _invoke(self, mapping: MappingConfig, batch: list[dict]) -> None:
        worker = self._current_worker()
        spec = worker.spec
        request_id = str(uuid.uuid4())
        event = events.kinesis_event(batch, self.shard_id, mapping.stream_arn, mapping.region,
                                     spec.role, encrypted=mapping.encrypted)
        result = worker.invoke(event, request_id)
        if result.aborted:
            return
        self.stats.invocations += 1
        if not result.ok:
            outcome, index = events.ERROR, None
            self.stats.error(f"{result.error_type}: {result.error_message}", function_error=True)
        elif mapping.report_failures:
            outcome, index = events.read_batch_response(
                result.payload, [r["SequenceNumber"] for r in batch])
            if outcome == events.PARTIAL:
                self.stats.partial_failures += 1
            elif outcome == events.ERROR:
                self.stats.error("batchItemFailures named no record of the batch",
                                 function_error=True)
        else:
            outcome, index = events.OK, None
        decision = self.planner.decide(len(batch), outcome, index, bisect=mapping.bisect,
                                       max_retries=mapping.max_retries)
        if decision.succeeded:
            self._done(batch[:decision.succeeded])
        if decision.discarded:
            start = decision.succeeded
            self._give_up(mapping, batch[start:start + decision.discarded], RETRY_EXHAUSTED,
                          decision.invoke_count, request_id=request_id,
                          function_error=None if result.ok else "Unhandled")
        if decision.delay:
            self.stop_event.wait(decision.delay)

    def _give_up(self, mapping: MappingConfig, records: list[dict], condition: str,
                 invoke_count: int, *, request_id: str, function_error: str | None) -> None:
        """Send the batch's invocation record to the OnFailure destination (retrying until
        it is accepted), then move the shard past the records."""
        info = events.batch_info(records, self.shard_id, mapping.stream_arn)
        log.warning("%s %s: gave up on %d record(s) %s..%s (%s, %d invocation(s))",
                    mapping.stream_name, self.shard_id, len(records), info["startSequenceNumber"],
                    info["endSequenceNumber"], condition, invoke_count)
        if mapping.on_failure:
            record = events.invocation_record(
                request_id=request_id, function_arn=mapping.function_arn, condition=condition,
                invoke_count=invoke_count, status_code=200, function_error=function_error,
                info=info, now=time.time())
            payload = None
            if ":s3:" in mapping.on_failure:  # only S3 destinations carry the records
                spec = self.function.current()[0]
                payload = events.kinesis_event(records, self.shard_id, mapping.stream_arn,
                                               mapping.region, spec.role if spec else "",
                                               encrypted=mapping.encrypted)
            attempt = 0
            while True:
                try:
                    self.destinations.send(mapping.on_failure, record, mapping_uuid=mapping.uuid,
                                           shard_id=self.shard_id, payload=payload)
                    break
                except Exception as error:  # the destination must not lose the record
                    attempt += 1
                    self.stats.error(f"OnFailure destination: {error}", function_error=False)
                    if self.stop_event.wait(retry_delay(attempt)):
                        return
        self._done(records, discarded=True)

    def _done(self, records: list[dict], discarded: bool = False) -> None:
        self.checkpoint.advance(records[-1]["SequenceNumber"])
        for _ in records:
            self.pending.popleft()
        if discarded:
            self.stats.records_discarded += len(records)
        else:
            self.stats.records_done += len(records)
        self.first_buffered_at = time.monotonic() if self.pending else None

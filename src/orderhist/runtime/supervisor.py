"""Keeps the set of shard pollers in line with the target: every enabled Kinesis mapping,
every shard of its stream (children only once their parents are read to the end, so a
partition key stays in order across a reshard), the function's current code."""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from orderhist import aws
from orderhist.runtime.destinations import Destinations
from orderhist.runtime.mappings import (
    CodeError, MappingConfig, enabled_kinesis_mappings, load_function,
)
from orderhist.runtime.poller import FunctionSlot, ShardPoller
from orderhist.runtime.stats import write_stats
from orderhist.runtime.worker import container_environment

log = logging.getLogger("orderhist.runtime")

# Enough connections for one poller per shard plus the supervisor, without warnings.
MAX_POOL_CONNECTIONS = 64


class Supervisor:
    def __init__(self, target: aws.Target, work_dir: Path,
                 only_functions: frozenset[str] | None = None):
        self.target = target
        self.work_dir = work_dir
        self.only_functions = only_functions
        # Patient: a background loop that retries anyway, reading up to 10 MB a call.
        self.lambda_client = aws.client("lambda", target, patient=True)
        self.kinesis = aws.client("kinesis", target, patient=True,
                                  max_pool_connections=MAX_POOL_CONNECTIONS)
        self.destinations = Destinations(target)
        self.pollers: dict[tuple[str, str], ShardPoller] = {}
        self.retired: list[ShardPoller] = []
        self.functions: dict[str, FunctionSlot] = {}
        self.error: str | None = None
        self._reported: dict[str, str] = {}

    def refresh(self) -> None:
        try:
            mappings = [m for m in enabled_kinesis_mappings(self.lambda_client) if self._serves(m)]
        except Exception as error:  # the emulator may be down for a moment: keep going
            self._report("mappings", f"cannot list event source mappings: {error}")
            return
        self._report("mappings", None)
        live: set[tuple[str, str]] = set()
        checked: set[str] = set()
        for mapping in mappings:
            if mapping.unsupported:
                self._report(mapping.uuid, f"mapping {mapping.uuid} is not served: "
                                           f"{mapping.unsupported}")
                continue
            slot = self.functions.setdefault(mapping.function_arn, FunctionSlot())
            if mapping.function_arn not in checked:
                checked.add(mapping.function_arn)
                self._refresh_function(mapping.function_arn, slot)
            try:
                shards = self._shards(mapping.stream_arn)
                mapping = dataclasses.replace(mapping, encrypted=self._encrypted(mapping))
            except Exception as error:
                self._report(mapping.uuid,
                             f"cannot list the shards of {mapping.stream_arn}: {error}")
                live.update(key for key in self.pollers if key[0] == mapping.uuid)
                continue
            self._report(mapping.uuid, None)
            self._sync_shards(mapping, slot, shards, live)
        for key in [key for key in self.pollers if key not in live]:
            poller = self.pollers.pop(key)
            log.info("mapping %s is gone or disabled: stopping %s", key[0], key[1])
            poller.stop()
            self.retired.append(poller)
        self.retired = [p for p in self.retired if p.thread.is_alive()]

    def _serves(self, mapping: MappingConfig) -> bool:
        if self.only_functions is None:
            return True
        name = mapping.function_arn.split(":")[6] if mapping.function_arn.count(":") >= 6 else ""
        return bool({mapping.function_arn, name} & self.only_functions)

    def _refresh_function(self, arn: str, slot: FunctionSlot) -> None:
        try:
            spec = load_function(self.lambda_client, arn, self.work_dir / "code", self.target,
                                 known=slot.spec)
            if not spec.runtime.startswith("python"):
                raise CodeError(f"{spec.name}: runtime {spec.runtime!r} cannot run locally "
                                "(only Python runtimes can)")
        except Exception as error:
            slot.fail(str(error), gone=aws.error_code(error) == "ResourceNotFoundException")
            self._report(arn, f"function {arn}: {error}")
            return
        self._report(arn, None)
        if spec != slot.spec:
            log.info("function %s: code %s from %s", spec.name, spec.code_sha256, spec.code_dir)
            slot.set(spec, container_environment(spec, self.target))

    def _encrypted(self, mapping: MappingConfig) -> bool:
        """Whether the stream is encrypted, for the event's encryptionType (AWS's GetRecords
        says it per record; moto does not)."""
        summary = self.kinesis.describe_stream_summary(StreamARN=mapping.stream_arn)
        return summary["StreamDescriptionSummary"].get("EncryptionType", "NONE") == "KMS"

    def _shards(self, stream_arn: str) -> list[dict]:
        shards, token = [], None
        while True:
            reply = (self.kinesis.list_shards(NextToken=token) if token
                     else self.kinesis.list_shards(StreamARN=stream_arn))
            shards.extend(reply.get("Shards", []))
            token = reply.get("NextToken")
            if not token:
                return shards

    def _sync_shards(self, mapping: MappingConfig, slot: FunctionSlot, shards: list[dict],
                     live: set) -> None:
        listed = {shard["ShardId"] for shard in shards}
        for shard in shards:
            key = (mapping.uuid, shard["ShardId"])
            ending = (shard.get("SequenceNumberRange") or {}).get("EndingSequenceNumber")
            poller = self.pollers.get(key)
            if poller is not None and (poller.thread.is_alive() or poller.finished):
                live.add(key)
                poller.mapping = mapping
                poller.ending_sequence = ending
                continue
            if poller is not None:
                log.error("the poller of %s %s stopped unexpectedly: restarting it", *key)
            parents = [shard.get(name) for name in ("ParentShardId", "AdjacentParentShardId")]
            if any(p in listed and not self._finished(mapping.uuid, p) for p in parents if p):
                continue  # the parent's records come first
            poller = ShardPoller(mapping=mapping, shard_id=shard["ShardId"], ending_sequence=ending,
                                 function=slot, kinesis=self.kinesis,
                                 destinations=self.destinations, work_dir=self.work_dir)
            self.pollers[key] = poller
            live.add(key)
            if not poller.finished:
                log.info("polling %s %s of %s", mapping.stream_name, shard["ShardId"],
                         mapping.function_arn)
                poller.start()

    def _finished(self, mapping_uuid: str, shard_id: str) -> bool:
        poller = self.pollers.get((mapping_uuid, shard_id))
        return poller is not None and poller.finished

    def _report(self, key: str, error: str | None) -> None:
        """Log an error once (not every two seconds) and keep the latest for `status`."""
        if error is None:
            self._reported.pop(key, None)
            return
        if self._reported.get(key) != error:
            log.error("%s", error)
        self._reported[key] = error
        self.error = error

    def write_stats(self) -> None:
        shards = [poller.snapshot() for poller in self.pollers.values()]
        problems = list(self._reported.values())
        write_stats(self.work_dir, shards, problems[-1] if problems else None)

    def shutdown(self, grace: float) -> None:
        """Let in-flight batches finish for `grace` seconds, then abandon them."""
        everyone = list(self.pollers.values()) + self.retired
        for poller in everyone:
            poller.stop()
        deadline = time.monotonic() + grace
        for poller in everyone:
            if poller.thread.is_alive():
                poller.thread.join(max(deadline - time.monotonic(), 0))
        for poller in everyone:
            if poller.thread.is_alive():
                log.warning("abandoning the in-flight batch of %s", poller.shard_id)
                poller.abort()
        for poller in everyone:
            if poller.thread.is_alive():
                poller.thread.join(5.0)

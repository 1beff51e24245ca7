"""Keeps the set of shard pollers in line with the target: every enabled Kinesis mapping,
every shard of its stream (children only once their parents are read to the end, so a
partition key stays in order across a reshard), the function's current code."""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from orderhist import aws, aws_errors, identity
from orderhist.runtime.destinations import Destinations
from orderhist.runtime.function_slot import FunctionSlot
from orderhist.runtime.mappings import (
    CodeError,
    MappingConfig,
    enabled_kinesis_mappings,
    load_function,
)
from orderhist.runtime.poller import ShardPoller
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
        # Lambda reads the stream and sends to the OnFailure destination with the function's
        # execution role: clients acting as each role, made once.
        self._as_role: dict[str, tuple[object, Destinations]] = {}
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
            kinesis, destinations = self._clients_for(slot)
            try:
                shards = self._shards(kinesis, mapping.stream_arn)
                mapping = dataclasses.replace(mapping,
                                              encrypted=self._encrypted(kinesis, mapping))
            except Exception as error:
                self._report(mapping.uuid,
                             f"cannot list the shards of {mapping.stream_arn}: {error}")
                live.update(key for key in self.pollers if key[0] == mapping.uuid)
                continue
            self._report(mapping.uuid, None)
            self._sync_shards(mapping, slot, shards, live, kinesis, destinations)
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
            slot.fail(str(error), gone=aws_errors.is_missing(error))
            self._report(arn, f"function {arn}: {error}")
            return
        if spec != slot.spec:
            log.info("function %s: code %s from %s", spec.name, spec.code_sha256, spec.code_dir)
            try:
                environment = {**container_environment(spec, self.target),
                               **self._role_credentials(spec)}
            except Exception as error:  # the role is gone, or its trust refuses Lambda
                slot.fail(f"cannot assume {spec.role}: {error}")
                self._report(arn, f"function {arn}: cannot assume its role {spec.role}: {error}")
                return
            slot.set(spec, environment)
        self._report(arn, None)

    def _role_credentials(self, spec) -> dict[str, str]:
        """The execution role's credentials for the function's containers, as Lambda sets
        them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)."""
        if not spec.role:
            return {}
        sts = aws.client("sts", identity.base_target(self.target), patient=True)
        return identity.environment_credentials(sts, spec.role, f"{spec.name}-local"[:64],
                                                identity.LAMBDA)

    def _clients_for(self, slot: FunctionSlot):
        """Kinesis and destination clients acting as the function's role (while its spec is
        not loaded: the runtime's own, which an enforcing emulator treats as root)."""
        spec = slot.current()[0]
        if spec is None or not spec.role:
            return self.kinesis, self.destinations
        made = self._as_role.get(spec.role)
        if made is None:
            role_target = identity.as_role(self.target, spec.role, "orderhist-runtime",
                                           identity.LAMBDA)
            made = (aws.client("kinesis", role_target, patient=True,
                               max_pool_connections=MAX_POOL_CONNECTIONS),
                    Destinations(role_target, lookup_target=self.target))
            self._as_role[spec.role] = made
        return made

    def _encrypted(self, kinesis, mapping: MappingConfig) -> bool:
        """Whether the stream is encrypted, for the event's encryptionType (AWS's GetRecords
        says it per record; moto does not)."""
        summary = kinesis.describe_stream_summary(StreamARN=mapping.stream_arn)
        return summary["StreamDescriptionSummary"].get("EncryptionType", "NONE") == "KMS"

    def _shards(self, kinesis, stream_arn: str) -> list[dict]:
        shards, token = [], None
        while True:
            reply = (kinesis.list_shards(NextToken=token) if token
                     else kinesis.list_shards(StreamARN=stream_arn))
            shards.extend(reply.get("Shards", []))
            token = reply.get("NextToken")
            if not token:
                return shards

    def _sync_shards(self, mapping: MappingConfig, slot: FunctionSlot, shards: list[dict],
                     live: set, kinesis, destinations: Destinations) -> None:
        listed = {shard["ShardId"] for shard in shards}
        for shard in shards:
            key = (mapping.uuid, shard["ShardId"])
            ending = (shard.get("SequenceNumberRange") or {}).get("EndingSequenceNumber")
            poller = self.pollers.get(key)
            if poller is not None and (poller.thread.is_alive() or poller.finished):
                live.add(key)
                poller.mapping = mapping
                poller.ending_sequence = ending
                poller.kinesis, poller.destinations = kinesis, destinations  # the role's
                continue
            if poller is not None:
                log.error("the poller of %s %s stopped unexpectedly: restarting it", *key)
            parents = [shard.get(name) for name in ("ParentShardId", "AdjacentParentShardId")]
            if any(p in listed and not self._finished(mapping.uuid, p) for p in parents if p):
                continue  # the parent's records come first
            poller = ShardPoller(mapping=mapping, shard_id=shard["ShardId"], ending_sequence=ending,
                                 function=slot, kinesis=kinesis,
                                 destinations=destinations, work_dir=self.work_dir)
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

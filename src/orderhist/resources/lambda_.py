"""The ingest function (deployed from the zip built out of orderhist's own handler) and its
Kinesis event source mapping."""
from __future__ import annotations

from orderhist.function import build
from orderhist.resources import (
    UNCHANGED,
    UPDATED,
    Resource,
    StackContext,
    retry_while_propagating,
    unless_missing,
)

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
MEMORY_MB = 256


def _function_config(ctx: StackContext) -> dict:
    # Here, not at the top: the handler imports boto3 (~0.1 s), which `status` never needs.
    from orderhist.function.handler import HANDLER

    return {
        "Role": ctx.record("ingest_role")["arn"],
        "Handler": HANDLER,
        "Runtime": RUNTIME,
        "Timeout": ctx.settings.function_timeout,
        "MemorySize": MEMORY_MB,
        "Environment": {"Variables": {
            # Refused records go to the table too; the queue is the mapping's OnFailure.
            "TABLE_NAME": ctx.record("table")["id"],
        }},
    }


class Function(Resource):
    name = "function"

    def find(self, ctx):
        config = unless_missing(ctx.client("lambda").get_function_configuration,
                                FunctionName=ctx.names.function)
        if config is None:
            return None
        return {"id": config["FunctionName"], "arn": config["FunctionArn"],
                "code_sha256": config["CodeSha256"], "config": config}

    def create(self, ctx):
        zip_bytes = build.build_zip()
        lam = ctx.client("lambda")
        retry_while_propagating(lambda: lam.create_function(
            FunctionName=ctx.names.function, Code={"ZipFile": zip_bytes},
            Architectures=[ARCHITECTURE], Tags=ctx.tags(), Publish=False,
            **_function_config(ctx)), ctx=ctx, resource=self.name)
        lam.get_waiter("function_active_v2").wait(
            FunctionName=ctx.names.function, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        return self._record(self.find(ctx))

    def drift(self, ctx, found):
        changes = []
        if found["code_sha256"] != build.code_sha256(build.build_zip()):
            changes.append("code")
        wanted, current = _function_config(ctx), found["config"]
        changes += [key for key, value in wanted.items() if current.get(key) != value]
        return changes

    def update(self, ctx, found):
        changes = self.drift(ctx, found)
        if not changes:
            return UNCHANGED, self._record(found)
        lam = ctx.client("lambda")
        if "code" in changes:
            lam.update_function_code(FunctionName=found["id"], ZipFile=build.build_zip())
            lam.get_waiter("function_updated_v2").wait(FunctionName=found["id"])
        if changes != ["code"]:
            retry_while_propagating(lambda: lam.update_function_configuration(
                FunctionName=found["id"], **_function_config(ctx)), ctx=ctx, resource=self.name)
            lam.get_waiter("function_updated_v2").wait(FunctionName=found["id"])
        return UPDATED, self._record(self.find(ctx))

    @staticmethod
    def _record(found: dict) -> dict:
        return {key: found[key] for key in ("id", "arn", "code_sha256")}

    def delete(self, ctx, record):
        unless_missing(ctx.client("lambda").delete_function, FunctionName=record["id"])


def _mapping_config(ctx: StackContext) -> dict:
    return {
        "BatchSize": ctx.settings.batch_size,
        "MaximumBatchingWindowInSeconds": 0,
        "BisectBatchOnFunctionError": True,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumRetryAttempts": ctx.settings.max_retry_attempts,
        # Said, so `up` puts back a hand-made change: the local runtime refuses both (it
        # runs one batch per shard and keeps no window state).
        "ParallelizationFactor": 1,
        "TumblingWindowInSeconds": 0,
        "DestinationConfig": {"OnFailure": {"Destination": ctx.record("queue")["arn"]}},
    }


class Mapping(Resource):
    name = "mapping"

    def find(self, ctx):
        stream_arn = ctx.records.get("stream", {}).get("arn") or \
            ctx.names.arn("kinesis", f"stream/{ctx.names.stream}")
        mappings = ctx.client("lambda").list_event_source_mappings(
            EventSourceArn=stream_arn, FunctionName=ctx.names.function)["EventSourceMappings"]
        mappings = [m for m in mappings if m.get("State") not in ("Deleting",)]
        if not mappings:
            return None
        mapping = mappings[0]
        return {"id": mapping["UUID"], "arn": mapping.get("EventSourceMappingArn"),
                "config": mapping}

    def create(self, ctx):
        # Lambda checks here that the role may read the stream and send to the OnFailure
        # queue; right after the role's policy is written it may not see that yet.
        mapping = retry_while_propagating(lambda: ctx.client("lambda").create_event_source_mapping(
            EventSourceArn=ctx.record("stream")["arn"], FunctionName=ctx.names.function,
            StartingPosition="TRIM_HORIZON", Enabled=True, **_mapping_config(ctx)),
            ctx=ctx, resource=self.name)
        return {"id": mapping["UUID"], "arn": mapping.get("EventSourceMappingArn")}

    def drift(self, ctx, found):
        current = found["config"]
        return [key for key, value in _mapping_config(ctx).items() if current.get(key) != value]

    def update(self, ctx, found):
        record = {"id": found["id"], "arn": found["arn"]}
        if not self.drift(ctx, found):
            return UNCHANGED, record
        retry_while_propagating(lambda: ctx.client("lambda").update_event_source_mapping(
            UUID=found["id"], **_mapping_config(ctx)), ctx=ctx, resource=self.name)
        return UPDATED, record

    def delete(self, ctx, record):
        unless_missing(ctx.client("lambda").delete_event_source_mapping, UUID=record["id"])

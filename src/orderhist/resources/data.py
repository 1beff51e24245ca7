"""Where the orders flow and rest: the stream, the table, the rejects queue (the artifacts
bucket lives with its artifacts, in `artifacts`)."""
from __future__ import annotations

from orderhist.resources import (
    UNCHANGED,
    UPDATED,
    Resource,
    create_when_name_free,
    missing,
    unless_missing,
)
from orderhist.schema import table_shape

# How long `up` waits for a name `down` just gave back: a deleted queue's is refused for 60 s;
# a stream or table takes seconds to minutes to finish DELETING.
QUEUE_NAME_WAIT_S = 90.0
NAME_WAIT_S = 300.0

class Stream(Resource):
    name = "stream"

    def find(self, ctx):
        reply = unless_missing(ctx.client("kinesis").describe_stream_summary,
                               StreamName=ctx.names.stream)
        summary = reply["StreamDescriptionSummary"] if reply else None
        if summary is None or summary["StreamStatus"] == "DELETING":
            return None
        return {"id": ctx.names.stream, "arn": summary["StreamARN"],
                "shards": summary.get("OpenShardCount"),
                "mode": summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")}

    def drift(self, ctx, found):
        if ctx.settings.on_demand != (found["mode"] == "ON_DEMAND"):
            return ["capacity mode"]
        if not ctx.settings.on_demand and found["shards"] != ctx.settings.shards:
            return [f"shards {found['shards']} -> {ctx.settings.shards}"]
        return []

    def update(self, ctx, found):
        record = {key: found[key] for key in ("id", "arn")}
        kinesis = ctx.client("kinesis")
        if ctx.settings.on_demand != (found["mode"] == "ON_DEMAND"):
            mode = "ON_DEMAND" if ctx.settings.on_demand else "PROVISIONED"
            kinesis.update_stream_mode(StreamARN=found["arn"],
                                       StreamModeDetails={"StreamMode": mode})
        elif not ctx.settings.on_demand and found["shards"] != ctx.settings.shards:
            kinesis.update_shard_count(StreamName=found["id"], ScalingType="UNIFORM_SCALING",
                                       TargetShardCount=ctx.settings.shards)
        else:
            return UNCHANGED, record
        kinesis.get_waiter("stream_exists").wait(
            StreamName=found["id"], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        return UPDATED, record

    def create(self, ctx):
        kinesis, stream = ctx.client("kinesis"), ctx.names.stream
        capacity = {"StreamModeDetails": {"StreamMode": "ON_DEMAND"}} if ctx.settings.on_demand \
            else {"ShardCount": ctx.settings.shards}
        create_when_name_free(ctx, self.name,
                              lambda: kinesis.create_stream(StreamName=stream, **capacity),
                              "a stream of that name is still being deleted", NAME_WAIT_S)
        kinesis.get_waiter("stream_exists").wait(
            StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        kinesis.add_tags_to_stream(StreamName=stream, Tags=ctx.tags())
        kinesis.start_stream_encryption(
            StreamName=stream, EncryptionType="KMS", KeyId="alias/aws/kinesis")
        kinesis.get_waiter("stream_exists").wait(
            StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        found = self.find(ctx)
        return {key: found[key] for key in ("id", "arn")}

    def delete(self, ctx, record):
        unless_missing(ctx.client("kinesis").delete_stream,
                       StreamName=record["id"], EnforceConsumerDeletion=True)


class Table(Resource):
    name = "table"

    def find(self, ctx):
        reply = unless_missing(ctx.client("dynamodb").describe_table, TableName=ctx.names.table)
        table = reply["Table"] if reply else None
        if table is None or table["TableStatus"] == "DELETING":
            return None
        return {"id": ctx.names.table, "arn": table["TableArn"]}

    def create(self, ctx):
        dynamodb, table = ctx.client("dynamodb"), ctx.names.table
        create_when_name_free(ctx, self.name, lambda: dynamodb.create_table(
            **table_shape(table),
            SSESpecification={"Enabled": True, "SSEType": "KMS"},
            Tags=[{"Key": k, "Value": v} for k, v in ctx.tags().items()],
        ), "a table of that name is still being deleted", NAME_WAIT_S)
        dynamodb.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        self._set_pitr(ctx, table)
        return self.find(ctx)

    def drift(self, ctx, found):
        if not ctx.settings.pitr:
            return []
        backups = ctx.client("dynamodb").describe_continuous_backups(TableName=found["id"])
        status = backups["ContinuousBackupsDescription"].get(
            "PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
        return [] if status == "ENABLED" else ["point-in-time recovery"]

    def update(self, ctx, found):
        if not self.drift(ctx, found):
            return UNCHANGED, found
        self._set_pitr(ctx, found["id"])
        return UPDATED, found

    @staticmethod
    def _set_pitr(ctx, table: str) -> None:
        if ctx.settings.pitr:
            ctx.client("dynamodb").update_continuous_backups(
                TableName=table,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})

    def delete(self, ctx, record):
        unless_missing(ctx.client("dynamodb").delete_table, TableName=record["id"])


class Queue(Resource):
    name = "queue"

    def find(self, ctx):
        sqs = ctx.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=ctx.names.queue)["QueueUrl"]
            arn = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        except Exception as error:
            if missing(error):
                return None
            raise
        return {"id": url, "arn": arn}

    def create(self, ctx):
        create_when_name_free(ctx, self.name, lambda: ctx.client("sqs").create_queue(
            QueueName=ctx.names.queue,
            # 14 days: rejects are kept for the user to inspect, not consumed.
            Attributes={"SqsManagedSseEnabled": "true", "MessageRetentionPeriod": "1209600"},
            tags=ctx.tags(),
        ), "AWS keeps a deleted queue's name for 60 s", QUEUE_NAME_WAIT_S)
        return self.find(ctx)

    def delete(self, ctx, record):
        unless_missing(ctx.client("sqs").delete_queue, QueueUrl=record["id"])

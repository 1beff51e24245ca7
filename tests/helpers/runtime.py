"""The runtime tests' provisioning (the real provisioning is stack.py's; test_runtime_provision
checks these make what DESIGN.md describes), their probe functions, and what a replay left."""
from __future__ import annotations

import io
import json
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from helpers.cli import orderhist
from helpers.lines import ORDER_LINES_ONLY
from orderhist import aws
from orderhist.function import build
from orderhist.function.handler import HANDLER
from orderhist.resources.data import table_shape
from orderhist.runtime import read_stats, run_runtime

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in sorted(files.items()):
            archive.writestr(name, text)
    return buffer.getvalue()


@dataclass
class Stack:
    target: aws.Target
    name: str
    stream_name: str
    stream_arn: str
    queue_url: str
    queue_arn: str
    role_arn: str
    table: str | None = None
    function_arn: str | None = None
    mapping_uuid: str | None = None

    def client(self, service: str):
        return aws.client(service, self.target)

    # Making things -------------------------------------------------------------------------

    @classmethod
    def create(cls, target: aws.Target, name: str, *, shards: int = 1,
               table: bool = True) -> Stack:
        iam, kinesis, sqs = (aws.client(s, target) for s in ("iam", "kinesis", "sqs"))
        role = iam.create_role(RoleName=f"{name}-ingest-role", AssumeRolePolicyDocument=TRUST)
        kinesis.create_stream(StreamName=f"{name}-orders", ShardCount=shards)
        kinesis.get_waiter("stream_exists").wait(StreamName=f"{name}-orders",
                                                  WaiterConfig={"Delay": 0.1})
        summary = kinesis.describe_stream_summary(StreamName=f"{name}-orders")
        queue_url = sqs.create_queue(QueueName=f"{name}-rejects")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        stack = cls(target, name, f"{name}-orders",
                    summary["StreamDescriptionSummary"]["StreamARN"], queue_url, queue_arn,
                    role["Role"]["Arn"])
        if table:
            stack.table = make_table(aws.client("dynamodb", target), f"{name}-orders")
        return stack

    def deploy(self, zip_bytes: bytes | None = None, handler: str = HANDLER, *,
               environment: dict | None = None, timeout: int = 30) -> str:
        env = {"TABLE_NAME": self.table or ""}
        env.update(environment or {})
        reply = self.client("lambda").create_function(
            FunctionName=f"{self.name}-ingest", Role=self.role_arn, Handler=handler,
            Runtime="python3.12", Code={"ZipFile": zip_bytes or build.build_zip()},
            Timeout=timeout, Environment={"Variables": env})
        self.function_arn = reply["FunctionArn"]
        return self.function_arn

    def map(self, **settings) -> str:
        settings.setdefault("StartingPosition", "TRIM_HORIZON")
        settings.setdefault("BatchSize", 100)
        reply = self.client("lambda").create_event_source_mapping(
            EventSourceArn=self.stream_arn, FunctionName=self.function_arn, Enabled=True,
            **settings)
        self.mapping_uuid = reply["UUID"]
        return self.mapping_uuid

    def unmap(self) -> None:
        """Tests share one emulator: a mapping left behind would be served by later runtimes."""
        if self.mapping_uuid:
            try:
                self.client("lambda").delete_event_source_mapping(UUID=self.mapping_uuid)
            except Exception:
                pass
            self.mapping_uuid = None

    # Using them ----------------------------------------------------------------------------

    def put(self, datas: list[bytes], partition_key: str | None = None) -> list[str]:
        """Put in order (500 per call); return the sequence numbers."""
        kinesis = self.client("kinesis")
        sequences = []
        for start in range(0, len(datas), 500):
            chunk = datas[start:start + 500]
            reply = kinesis.put_records(StreamName=self.stream_name, Records=[
                {"Data": data, "PartitionKey": partition_key or str(start + i)}
                for i, data in enumerate(chunk)])
            assert not reply.get("FailedRecordCount")
            sequences.extend(r["SequenceNumber"] for r in reply["Records"])
        return sequences

    def items(self, *attributes: str) -> list[dict]:
        """The order lines in the table (refused records are kept there too)."""
        dynamodb = self.client("dynamodb")
        found, request = [], {"TableName": self.table, **ORDER_LINES_ONLY}
        if attributes:  # the emulator's scan is slow, mostly in serialising attributes
            request["ProjectionExpression"] = ", ".join(attributes)
        while True:
            reply = dynamodb.scan(**request)
            found.extend(reply["Items"])
            if "LastEvaluatedKey" not in reply:
                return found
            request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def item_count(self) -> int:
        return self.client("dynamodb").scan(TableName=self.table, Select="COUNT",
                                            **ORDER_LINES_ONLY)["Count"]

    def queue_depth(self) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages",
                                                     "ApproximateNumberOfMessagesNotVisible"])
        return sum(int(v) for v in attributes["Attributes"].values())


def make_table(dynamodb, name: str) -> str:
    dynamodb.create_table(**table_shape(name))
    return name


class RuntimeThread:
    """run_runtime in a thread of the test process, serving only this test's function."""

    def __init__(self, stack: Stack, work_dir: Path):
        self.stack = stack
        self.work_dir = work_dir
        self.stop = threading.Event()
        self.result: list[int] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.result.append(run_runtime(self.stack.target, self.work_dir, self.stop,
                                       only_functions=[self.stack.function_arn]))

    def __enter__(self) -> RuntimeThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the runtime did not stop"
        self.stack.unmap()


# A function for the mapping tests: logs every invocation to a file, fails on marker records.
MAPPING_PROBE = '''
import base64, json, os, time

def handler(event, context):
    records = event["Records"]
    seqs = [r["kinesis"]["sequenceNumber"] for r in records]
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in records]
    entry = {"seqs": seqs, "datas": datas, "pid": os.getpid(), "file": __file__,
             "at": time.time(), "remaining": context.get_remaining_time_in_millis(),
             "tag": os.environ.get("PROBE_TAG")}
    if os.environ.get("PROBE_FULL"):
        entry["event"] = event
        entry["env"] = dict(os.environ)
    with open(os.environ["PROBE_LOG"], "a") as log:
        log.write(json.dumps(entry) + "\\n")
    for seq, data in zip(seqs, datas):
        if data == "BOOM":
            raise RuntimeError("boom at " + seq)
        if data == "SLEEP":
            time.sleep(30)
        if data == "EXIT":
            os._exit(3)
    failed = [s for s, d in zip(seqs, datas)
              if d.startswith("FAILALWAYS") or (d.startswith("FAILONCE") and _first_time(s))]
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

def _first_time(seq):
    path = os.environ["PROBE_LOG"] + ".seen"
    seen = open(path).read().split() if os.path.exists(path) else []
    if seq in seen:
        return False
    with open(path, "a") as out:
        out.write(seq + "\\n")
    return True
'''


class Probe:
    def __init__(self, local_target, unique_name, tmp_path: Path, *, timeout: int = 10,
                 environment: dict | None = None):
        self.log = tmp_path / "probe.log"
        self.work_dir = tmp_path / "runtime"
        self.stack = Stack.create(local_target, unique_name, table=False)
        self.stack.deploy(zip_of({"probe.py": MAPPING_PROBE}), "probe.handler", timeout=timeout,
                          environment={"PROBE_LOG": str(self.log), **(environment or {})})

    def invocations(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stats(self) -> dict:
        return read_stats(self.work_dir)

    def settled(self, count: int) -> bool:
        stats = self.stats()
        return stats["records_done"] + stats["records_discarded"] + \
            stats.get("records_filtered", 0) == count

    def runtime(self) -> RuntimeThread:
        return RuntimeThread(self.stack, self.work_dir)


# A handler for the container tests (the runtime's workers, the function's log).
CONTAINER_PROBE = """
import json, os, sys, time
print("init", flush=True)
def handler(event, context):
    what = event.get("do")
    if what == "sleep":
        time.sleep(30)
    if what == "raise":
        raise ValueError("bad record")
    if what == "exit":
        os._exit(3)
    if what == "set":
        return {1, 2}
    print("noise on stdout")
    return {"pid": os.getpid(), "remaining": context.get_remaining_time_in_millis(),
            "request": context.aws_request_id, "tag": os.environ.get("TAG"),
            "file": __file__}
"""


# The rejects and the table after a replay.
def given_up_records(home) -> int:
    listed = json.loads(orderhist(home, "rejects", "--json").stdout)
    return sum(r["KinesisBatchInfo"]["batchSize"] for r in listed if "KinesisBatchInfo" in r)


def stored_line_numbers(dynamodb, table: str) -> list[int]:
    found, request = [], {"TableName": table, "ProjectionExpression": "LineNo",
                          **ORDER_LINES_ONLY}
    while True:
        reply = dynamodb.scan(**request)
        found += [int(item["LineNo"]["N"]) for item in reply["Items"]]
        if "LastEvaluatedKey" not in reply:
            return sorted(found)
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

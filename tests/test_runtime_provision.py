"""Provisioning helpers for the runtime and handler tests (the real provisioning is
stack.py's), plus a check that they make what DESIGN.md describes.

Other test modules import these helpers; pytest puts this directory on sys.path."""
from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from orderhist import aws, records
from orderhist.function import build
from orderhist.function.handler import HANDLER
from orderhist.resources.data import table_shape
from orderhist.runtime import run_runtime

from support import ORDER_LINES_ONLY

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def order_line(line_no: int, customer: str | None = None, invoice: str | None = None) -> str:
    """A valid log line whose identity is its LineNo."""
    line = records.OrderLine(
        invoice_no=invoice or f"5{line_no // 10:05d}", stock_code=f"SC{line_no % 97}",
        description=f'Item "{line_no}", with comma', quantity=line_no % 7 + 1,
        invoice_date="2010-12-01T08:26:00", unit_price=Decimal("2.55"),
        customer_id=customer if customer is not None else str(12000 + line_no % 50),
        country="United Kingdom", line_no=line_no, emitted_at=records.utc_now_iso_ms())
    return records.to_log_line(line)


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
               table: bool = True) -> "Stack":
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

    def __enter__(self) -> "RuntimeThread":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the runtime did not stop"
        self.stack.unmap()


def test_the_helpers_make_the_designed_table(local_target, unique_name):
    stack = Stack.create(local_target, unique_name)
    table = stack.client("dynamodb").describe_table(TableName=stack.table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["CustomerID", "SK"]
    index = table["GlobalSecondaryIndexes"][0]
    assert index["IndexName"] == "ByInvoice"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["InvoiceNo", "LineNo"]
    assert records.parse_log_line(order_line(7)).line_no == 7

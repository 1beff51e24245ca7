"""IAM documents are least-privilege and scoped; the Lambda zip is small and reproducible."""
from __future__ import annotations

import io
import json
import zipfile

from orderhist import policies
from orderhist.function import build

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/p-orders"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/p-orders"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:p-rejects"
LOGS = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/p-ingest"
BUCKET = "arn:aws:s3:::p-artifacts-123456789012-us-east-1"


def actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def statements(document: str) -> list[dict]:
    parsed = json.loads(document)
    assert parsed["Version"] == "2012-10-17"
    return parsed["Statement"]


def test_ingest_policy_scopes_every_data_action_to_its_arn():
    found = statements(policies.ingest_policy(
        stream_arn=STREAM, table_arn=TABLE, queue_arn=QUEUE, log_group_arn=LOGS))
    by_sid = {s["Sid"]: s for s in found}
    assert by_sid["ReadOrderStream"]["Resource"] == STREAM
    assert by_sid["WriteOrderTable"]["Resource"] == TABLE
    assert by_sid["WriteOrderTable"]["Action"] == ["dynamodb:BatchWriteItem"]
    assert by_sid["SendFailedBatches"]["Resource"] == QUEUE
    assert by_sid["SendFailedBatches"]["Action"] == ["sqs:SendMessage"]
    assert not [s for s in found if s["Resource"] == "*"]
    assert not any("*" in action for s in found for action in actions(s))


def test_host_policy_can_put_records_and_read_only_its_prefix():
    found = {s["Sid"]: s for s in statements(policies.host_policy(
        stream_arn=STREAM, bucket_arn=BUCKET, artifacts_prefix="host/", reports_prefix="runs"))}
    assert found["PutOrderRecords"]["Action"] == ["kinesis:PutRecords"]
    assert found["PutOrderRecords"]["Resource"] == STREAM
    assert found["ReadArtifacts"]["Resource"] == BUCKET + "/host/*"
    assert found["WriteGeneratorReports"]["Resource"] == BUCKET + "/runs/*"
    assert actions(found["WriteGeneratorReports"]) == ["s3:PutObject"]
    assert all(not a.startswith(("kinesis:", "dynamodb:", "s3:"))
               for a in found["RunCommandAndSessions"]["Action"])


def test_trust_policy_names_one_service():
    (statement,) = statements(policies.trust_policy("lambda.amazonaws.com"))
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_zip_is_reproducible_and_holds_only_what_the_handler_imports():
    first, second = build.build_zip(), build.build_zip()
    assert first == second and build.code_sha256(first) == build.code_sha256(second)
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert sorted(names) == ["orderhist/__init__.py", "orderhist/aws_errors.py",
                             "orderhist/errors.py", "orderhist/function/__init__.py",
                             "orderhist/function/handler.py", "orderhist/records.py",
                             "orderhist/refusals.py", "orderhist/schema.py",
                             "orderhist/textescape.py"]
    assert len(first) < 20_000

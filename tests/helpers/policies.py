"""The policies orderhist writes, for a made-up stack "p" in one account and region."""
from __future__ import annotations

import json

from orderhist import policies

ACCOUNT, REGION = "123456789012", "eu-west-1"
STREAM = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/p-orders"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/p-orders"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:p-rejects"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/p-ingest"
BUCKET = f"arn:aws:s3:::p-artifacts-{ACCOUNT}-{REGION}"


def documents() -> dict[str, dict]:
    return {
        "ingest": json.loads(policies.ingest_policy(
            stream_arn=STREAM, table_arn=TABLE, queue_arn=QUEUE, log_group_arn=LOGS)),
        "host": json.loads(policies.host_policy(
            stream_arn=STREAM, bucket_arn=BUCKET, artifacts_prefix="host", reports_prefix="runs")),
        "lambda trust": json.loads(policies.trust_policy("lambda.amazonaws.com")),
        "ec2 trust": json.loads(policies.trust_policy("ec2.amazonaws.com")),
    }

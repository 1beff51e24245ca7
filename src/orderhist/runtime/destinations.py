"""The OnFailure destination: where the invocation record of a batch that was given up on
goes (SQS, SNS, or S3 as AWS allows), so the records can be found and re-read later."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime

from orderhist import aws
from orderhist.errors import UsageProblem


class Destinations:
    def __init__(self, target: aws.Target, lookup_target: aws.Target | None = None):
        """`target` sends (as the function's role, as Lambda does); `lookup_target` finds a
        queue's URL from its ARN, which Lambda's service does by itself, not as the role."""
        self.target = target
        self._lookup = aws.client("sqs", lookup_target, patient=True) if lookup_target \
            else None
        self._clients: dict[str, object] = {}
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()
        # Made here, on the supervisor's thread: boto3 sessions are not thread-safe to build
        # clients from, and SQS is the destination almost everyone uses.
        self._clients["sqs"] = aws.client("sqs", target, patient=True)

    def send(self, destination_arn: str, record: dict, *, mapping_uuid: str, shard_id: str,
             payload: dict | None = None) -> None:
        """Deliver or raise; the caller keeps the checkpoint until this returns."""
        parts = destination_arn.split(":", 5)
        service = parts[2]
        body = json.dumps(record)
        if service == "sqs":
            self._client("sqs").send_message(QueueUrl=self._queue_url(parts), MessageBody=body)
        elif service == "sns":
            self._client("sns").publish(TopicArn=destination_arn, Message=body)
        elif service == "s3":
            # S3 destinations also carry the invocation payload, under AWS's key layout.
            now = datetime.now(UTC)
            key = (f"aws/lambda/{mapping_uuid}/{shard_id}/{now:%Y/%m/%d}/"
                   f"{now:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}")
            document = {**record, "payload": payload} if payload is not None else record
            self._client("s3").put_object(Bucket=parts[5].split("/")[0], Key=key,
                                          Body=json.dumps(document).encode("utf-8"))
        else:
            raise UsageProblem(f"unsupported OnFailure destination {destination_arn}")

    def _client(self, service: str):
        with self._lock:
            if service not in self._clients:
                self._clients[service] = aws.client(service, self.target, patient=True)
            return self._clients[service]

    def _queue_url(self, parts: list[str]) -> str:
        account, name = parts[4], parts[5]
        key = f"{account}:{name}"
        with self._lock:
            cached = self._queue_urls.get(key)
        if cached:
            return cached
        url = (self._lookup or self._client("sqs")).get_queue_url(
            QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        with self._lock:
            self._queue_urls[key] = url
        return url

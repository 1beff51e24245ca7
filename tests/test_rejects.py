"""Reading the rejects queue without consuming it, on the real emulator."""
from __future__ import annotations

import json

from orderhist import aws
from orderhist.rejects import is_batch_info, list_rejects


def batch_info(n: int) -> dict:
    return {
        "requestContext": {"requestId": f"r{n}",
                           "functionArn": "arn:aws:lambda:us-east-1:1:function:f",
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                            "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2026-11-28T04:00:00.000Z",
        "KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": str(n),
                             "endSequenceNumber": str(n), "batchSize": 1,
                             "approximateArrivalOfFirstRecord": "2026-11-28T04:00:00.000Z",
                             "approximateArrivalOfLastRecord": "2026-11-28T04:00:00.000Z",
                             "streamArn": "arn:aws:kinesis:us-east-1:1:stream/s"}}


def test_every_message_is_listed_and_stays_on_the_queue(local_target, unique_name):
    sqs = aws.client("sqs", local_target)
    queue_url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    bodies = [{"reason": "Quantity 'x' is not an integer", "data": f"line {n}",
               "shardId": "shardId-000000000000", "sequenceNumber": str(n)} for n in range(33)]
    bodies += [batch_info(n) for n in (100, 101)]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    sqs.send_message(QueueUrl=queue_url, MessageBody="not json")
    # A redelivered record refused again, and a batch given up on twice.
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(bodies[7]))
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(batch_info(101)))

    first = list_rejects(local_target, queue_url)
    second = list_rejects(local_target, queue_url)

    assert len(first) == len(bodies) + 1 == len(second)
    assert len(list_rejects(local_target, queue_url, distinct=False)) == len(bodies) + 3
    refused = [m for m in first if not is_batch_info(m)]
    given_up = [m for m in first if is_batch_info(m)]
    assert sorted(m["sequenceNumber"] for m in refused if "sequenceNumber" in m) == sorted(
        str(n) for n in range(33))
    assert [m["KinesisBatchInfo"]["startSequenceNumber"] for m in given_up] == ["100", "101"]
    assert any(m["data"] == "not json" for m in refused)
    # Nothing was consumed, and everything is visible again at once.
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": str(len(bodies) + 3),
                          "ApproximateNumberOfMessagesNotVisible": "0"}


def test_an_empty_queue_lists_nothing(local_target, unique_name):
    queue_url = aws.client("sqs", local_target).create_queue(QueueName=unique_name)["QueueUrl"]
    assert list_rejects(local_target, queue_url) == []

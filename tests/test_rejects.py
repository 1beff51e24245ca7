"""Listing rejects on the real emulator: refused records from the table, whole and in order;
given-up batches from the queue, without consuming it, saying what could not be read."""
from __future__ import annotations

import json

from orderhist import aws, refusals
from orderhist.rejects import count_refused, is_batch_info, list_rejects
from orderhist.resources.data import table_shape


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
    # Refused records as an older orderhist parked them on the queue, and given-up batches.
    bodies = [{"reason": "Quantity 'x' is not an integer", "data": f"line {n}",
               "shardId": "shardId-000000000000", "sequenceNumber": str(n)} for n in range(33)]
    bodies += [batch_info(n) for n in (100, 101)]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    sqs.send_message(QueueUrl=queue_url, MessageBody="not json")
    # A redelivered record refused again, and a batch given up on twice.
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(bodies[7]))
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(batch_info(101)))

    first = list_rejects(local_target, None, queue_url)
    second = list_rejects(local_target, None, queue_url)

    assert first.complete and second.complete
    assert len(first.all) == len(bodies) + 1 == len(second.all)
    assert [m["KinesisBatchInfo"]["startSequenceNumber"] for m in first.given_up] == ["100", "101"]
    assert not any(is_batch_info(m) for m in first.refused)
    assert sorted(m["sequenceNumber"] for m in first.refused if "sequenceNumber" in m) == sorted(
        str(n) for n in range(33))
    assert any(m["data"] == "not json" for m in first.refused)
    # Nothing was consumed, and everything is visible again at once.
    assert visible_and_hidden(sqs, queue_url) == (len(bodies) + 3, 0)


def test_messages_another_reader_holds_are_counted_as_unread(local_target, unique_name):
    sqs = aws.client("sqs", local_target)
    queue_url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    for n in range(25):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(batch_info(n)))
    # Another reader (a consumer, or a second listing) holds five of them hidden.
    held = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=5,
                               VisibilityTimeout=60)["Messages"]
    assert len(held) == 5

    listing = list_rejects(local_target, None, queue_url)

    assert len(listing.given_up) == 20
    assert listing.unread == 5 and not listing.complete
    assert visible_and_hidden(sqs, queue_url) == (20, 5)  # ours restored, theirs untouched


def test_an_empty_queue_and_table_list_nothing(local_target, unique_name):
    queue_url = aws.client("sqs", local_target).create_queue(QueueName=unique_name)["QueueUrl"]
    dynamodb = aws.client("dynamodb", local_target)
    dynamodb.create_table(**table_shape(unique_name))
    listing = list_rejects(local_target, unique_name, queue_url)
    assert listing.all == [] and listing.complete


def test_refused_records_in_the_table_are_listed_whole_and_in_arrival_order(local_target,
                                                                           unique_name):
    dynamodb = aws.client("dynamodb", local_target)
    dynamodb.create_table(**table_shape(unique_name))
    base = 1_764_000_000.0
    rejects = [{"reason": f"reason {n}", "data": f"garbage {n}", "dataEncoding": "text",
                "truncated": False, "shardId": f"shardId-00000000000{n % 3}",
                "sequenceNumber": f"4960{n:052d}", "approximateArrivalTimestamp": base + n / 1000,
                "arrivedAt": refusals.iso_from_epoch(base + n / 1000),
                "rejectedAt": "2026-11-30T00:00:00.000Z"} for n in range(2_500)]
    for start in range(0, len(rejects), 25):
        dynamodb.batch_write_item(RequestItems={unique_name: [
            {"PutRequest": {"Item": refusals.reject_to_item(r)}}
            for r in reversed(rejects[start:start + 25])]})

    listing = list_rejects(local_target, unique_name, None)

    assert listing.refused == rejects
    assert count_refused(local_target, unique_name) == 2_500


def visible_and_hidden(sqs, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]))

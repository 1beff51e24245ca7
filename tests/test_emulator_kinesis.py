"""The fast Kinesis path: the same records, sequence numbers, shards and iterators as stock
moto on random traffic; reads from any iterator position; and concurrent producers to one
shard lose nothing and never share a sequence number."""
from __future__ import annotations

import random
import threading
import time

import pytest

from helpers.emulator import Twin, fast_requests, raw_client
from orderhist import aws

STREAM = "equivalence"
FIRST_SHARD_BASE = 49 * 10**54


def _comparable(outcome):
    """A GetRecords answer without what depends on each server's clock."""
    if outcome[0] != "ok" or "Records" not in (outcome[1] or {}):
        return outcome
    body = dict(outcome[1])
    body.pop("MillisBehindLatest", None)
    body["Records"] = [{k: v for k, v in r.items() if k != "ApproximateArrivalTimestamp"}
                       for r in body["Records"]]
    return outcome[0], body


def test_random_traffic_answers_as_stock_moto(twin_targets):
    fast, stock = twin_targets
    twin = Twin("kinesis", fast, stock)
    for client in (twin.fast, twin.stock):
        client.create_stream(StreamName=STREAM, ShardCount=3)
        client.get_waiter("stream_exists").wait(StreamName=STREAM,
                                                WaiterConfig={"Delay": 0.1})
    rng = random.Random(11)
    keys = [str(rng.randrange(10**5)) for _ in range(30)]
    for n in range(60):
        records = [{"Data": bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))),
                    "PartitionKey": rng.choice(keys)} for _ in range(rng.randrange(1, 60))]
        twin.same("put_records", StreamName=STREAM, Records=records)
        if n % 4 == 0:
            twin.same("put_record", StreamName=STREAM, **records[0])
    shards = [s["ShardId"] for s in twin.fast.list_shards(StreamName=STREAM)["Shards"]]
    for _ in range(120):
        request = {"StreamName": STREAM, "ShardId": rng.choice(shards)}
        kind = rng.choice(["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER",
                           "AFTER_SEQUENCE_NUMBER"])
        request["ShardIteratorType"] = kind
        if "SEQUENCE" in kind:
            request["StartingSequenceNumber"] = str(rng.randrange(1, 1200))
        iterators = twin.same("get_shard_iterator", **request)
        iterator = iterators[1]["ShardIterator"]
        for _ in range(rng.randrange(1, 4)):
            limit = rng.choice([None, 1, 7, 100, 10000])
            params = {"ShardIterator": iterator, **({"Limit": limit} if limit else {})}
            got, want = (_comparable(o) for o in twin.both("get_records", **params))
            assert got == want
            iterator = got[1]["NextShardIterator"]
    served = fast_requests(fast)
    assert served.get("PutRecords:fast") == 60 and served.get("PutRecord:fast") == 15
    assert served.get("GetRecords:fast", 0) > 120


def test_at_timestamp_and_behind_latest(fast_target):
    client = raw_client("kinesis", fast_target)
    client.create_stream(StreamName="moments", ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName="moments", WaiterConfig={"Delay": 0.1})
    client.put_records(StreamName="moments", Records=[
        {"Data": b"before", "PartitionKey": "k"} for _ in range(5)])
    time.sleep(0.05)
    moment = time.time()
    time.sleep(0.05)
    client.put_records(StreamName="moments", Records=[
        {"Data": b"after%d" % n, "PartitionKey": "k"} for n in range(3)])
    iterator = client.get_shard_iterator(StreamName="moments", ShardId="shardId-000000000000",
                                         ShardIteratorType="AT_TIMESTAMP",
                                         Timestamp=moment)["ShardIterator"]
    reply = client.get_records(ShardIterator=iterator, Limit=2)
    assert [r["Data"] for r in reply["Records"]] == [b"after0", b"after1"]
    # AWS-shaped numbers: shard 0's records count on from 49 x 10^54
    assert [int(r["SequenceNumber"]) - FIRST_SHARD_BASE for r in reply["Records"]] == [6, 7]
    assert reply["MillisBehindLatest"] >= 0
    tail = client.get_records(ShardIterator=reply["NextShardIterator"])
    assert [r["Data"] for r in tail["Records"]] == [b"after2"]
    assert tail["MillisBehindLatest"] == 0
    empty = client.get_records(ShardIterator=tail["NextShardIterator"])
    assert empty["Records"] == [] and empty["NextShardIterator"] == tail["NextShardIterator"]


@pytest.mark.parametrize("mode,batch,per_thread", [
    ("fast", 50, 2000), ("fast", 1, 400), ("stock", 1, 150)])
def test_concurrent_producers_to_one_shard_lose_nothing(twin_targets, mode, batch,
                                                        per_thread):
    """4 threads into one shard, by PutRecords and by PutRecord; on the stock emulator
    PutRecord is moto's own path, behind the emulator's lock."""
    target = twin_targets[0] if mode == "fast" else twin_targets[1]
    stream = f"crowd-{mode}-{batch}"
    setup = aws.client("kinesis", target)
    setup.create_stream(StreamName=stream, ShardCount=1)
    setup.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1})
    threads = 4
    acknowledged: list[list[str]] = [[] for _ in range(threads)]

    def produce(worker: int) -> None:
        client = aws.client("kinesis", target)
        payloads = [f"w{worker}-{n}".encode() for n in range(per_thread)]
        for start in range(0, per_thread, batch):
            chunk = payloads[start:start + batch]
            if batch == 1:
                reply = client.put_record(StreamName=stream, Data=chunk[0], PartitionKey="k")
                acknowledged[worker].append(reply["SequenceNumber"])
            else:
                reply = client.put_records(StreamName=stream, Records=[
                    {"Data": d, "PartitionKey": f"k{worker}"} for d in chunk])
                assert reply["FailedRecordCount"] == 0
                acknowledged[worker] += [r["SequenceNumber"] for r in reply["Records"]]

    workers = [threading.Thread(target=produce, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = threads * per_thread
    sequence_numbers = [s for acks in acknowledged for s in acks]
    assert len(set(sequence_numbers)) == total
    assert sorted(int(s) - FIRST_SHARD_BASE for s in sequence_numbers) == list(
        range(1, total + 1))
    iterator = setup.get_shard_iterator(StreamName=stream, ShardId="shardId-000000000000",
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    read = []
    while True:
        reply = setup.get_records(ShardIterator=iterator, Limit=1000)
        read += reply["Records"]
        iterator = reply["NextShardIterator"]
        if not reply["Records"]:
            break
    assert len(read) == total
    assert sorted(r["Data"] for r in read) == sorted(
        f"w{w}-{n}".encode() for w in range(threads) for n in range(per_thread))

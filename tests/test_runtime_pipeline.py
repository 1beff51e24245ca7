"""The real handler behind the runtime: good lines stored, poison parked, nothing held up."""
from __future__ import annotations

import math

from helpers.lines import runtime_order_line as order_line
from helpers.runtime import RuntimeThread, Stack
from helpers.waiting import wait_until
from orderhist.rejects import is_batch_info, list_rejects
from orderhist.runtime import read_stats

POISON = [
    b"\xff\xfe\x00 not text",
    b"just some words",
    b'{"InvoiceNo": "536365"}',
    b"536365,85123A,WHITE HANGING HEART,six,2010-12-01T08:26:00,2.55,17850,United Kingdom,1,",
]


def test_good_lines_are_stored_and_poison_is_parked_without_delaying_them(local_target,
                                                                          unique_name, tmp_path):
    stack = Stack.create(local_target, unique_name, shards=2)
    stack.deploy()
    stack.map(BatchSize=100, BisectBatchOnFunctionError=True, MaximumRetryAttempts=2,
              FunctionResponseTypes=["ReportBatchItemFailures"],
              DestinationConfig={"OnFailure": {"Destination": stack.queue_arn}})
    datas, poison_at = [], set()
    for n in range(1, 2041):
        if n % 51 == 0:  # 40 of them, spread through both shards' batches
            poison_at.add(n)
            datas.append(POISON[n % len(POISON)] + b" #%d" % n)
        else:
            datas.append(order_line(n).encode())
    sequences = stack.put(datas)
    work_dir = tmp_path / "runtime"
    with RuntimeThread(stack, work_dir):
        wait_until(lambda: read_stats(work_dir)["records_done"] == 2040, 60,
                   message="every record to be done")
        stats = read_stats(work_dir)

    lines = sorted(int(item["LineNo"]["N"]) for item in stack.items("LineNo"))
    assert lines == [n for n in range(1, 2041) if n not in poison_at]

    rejects = list_rejects(stack.target, stack.table, stack.queue_url).all
    assert not any(is_batch_info(m) for m in rejects)
    assert len(rejects) == 40
    poison_sequences = {(s["shardId"], s["sequenceNumber"]) for s in rejects}
    assert len(poison_sequences) == 40
    assert {m["data"].rsplit("#", 1)[-1] for m in rejects if m["dataEncoding"] == "text"} <= {
        str(n) for n in poison_at}
    assert all(m["reason"] for m in rejects)
    assert len(sequences) == 2040

    # Not one retry: each shard went through its records in full batches, once.
    per_shard = {s["shard"]: s for s in stats["shards"]}
    assert stats["errors"] == 0 and stats["records_discarded"] == 0
    for shard in per_shard.values():
        assert shard["partial_failures"] == 0
        assert shard["invocations"] == math.ceil(shard["records_done"] / 100)

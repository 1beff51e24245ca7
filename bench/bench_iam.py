"""What IAM enforcement costs the local pipeline: N lines end to end (`up`, `generate --count N
--wait`) with enforcement on (the default) and off (`up --no-iam`), in one run, rounds in the
order on, off, off, on so a machine that speeds up or slows down during the run weighs on both
alike. A benchmark, not a test: it prints figures measured in this one run.

First the authorising layer alone, in process: its cost per hot call.

    python bench/bench_iam.py [--source FILE] [--count 100000] [--rounds 4 | 0: the layer only]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from orderhist import emulator

ORDER = ("on", "off", "off", "on")


def one_round(source: Path, count: int, mode: str, timeout: float) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"orderhist-bench-iam-{mode}-"))
    common.orderhist(home, "up", *(["--no-iam"] if mode == "off" else []))
    try:
        target = common.stack_endpoint(home)
        # CPU seconds of the stack's processes: steadier than wall time on a shared machine.
        pids = common.stack_pids(home)
        cpu_before = {name: common.process_cpu_s(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        result = common.orderhist(home, "generate", "--source", str(source), "--count",
                                  str(count), "--wait", "--json", "--timeout", str(timeout),
                                  timeout=timeout + 600)
        wall = time.perf_counter() - started
        cpu = {name: common.process_cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
        summary = json.loads(result.stdout)
        iam = emulator.control(target.endpoint_url, "iam")
        return {"mode": mode, "wall": wall, "rate": summary["lines"] / wall,
                "stored": summary["stored"], "missing": summary.get("missing"),
                "p50": summary["latency_ms"]["p50"], "iam": iam, "cpu": cpu}
    finally:
        common.orderhist(home, "down", "--yes")


def layer_cost(calls: int = 2000) -> None:
    """The authorising layer alone, in this process, in front of an app that answers at once:
    microseconds per call for the pipeline's three hot calls made with a role's keys (decision
    cached, as after the first call), against the same call with enforcement off."""
    import base64
    import io

    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    from orderhist import policies
    from orderhist.emulator.authz import Authorizer

    account, region = "123456789012", common.REGION
    arn = f"arn:aws:{{}}:{region}:{account}:{{}}".format
    stream, table = arn("kinesis", "stream/p-orders"), arn("dynamodb", "table/p-orders")
    iam = iam_backends[account]["aws"]
    iam.create_role("p-ingest", policies.trust_policy("lambda.amazonaws.com"), "/", None, "",
                    [], None)
    iam.put_role_policy("p-ingest", "orderhist", policies.ingest_policy(
        stream_arn=stream, table_arn=table, queue_arn=arn("sqs", "p-rejects"),
        log_group_arn=arn("logs", "log-group:/aws/lambda/p-ingest")))
    iam.put_role_policy("p-ingest", "host", policies.host_policy(
        stream_arn=stream, bucket_arn="arn:aws:s3:::b", artifacts_prefix="a",
        reports_prefix="r"))
    key = sts_backends[account]["aws"].assume_role(
        region, "s", f"arn:aws:iam::{account}:role/p-ingest", "", 3600, "").access_key_id
    data = base64.b64encode(b"x" * 200).decode()
    item = {"CustomerID": {"S": "17850"}, "SK": {"S": "2010-12-01#536365#0000001"},
            "Description": {"S": "WHITE HANGING HEART T-LIGHT HOLDER"}}
    iterator = base64.encodebytes(b"p-orders:shardId-000000000000:5").decode()
    hot = {
        "Kinesis_20131202.PutRecords (500)": ("kinesis", {"StreamName": "p-orders", "Records": [
            {"Data": data, "PartitionKey": str(i)} for i in range(500)]}),
        "Kinesis_20131202.GetRecords": ("kinesis", {"ShardIterator": iterator, "Limit": 500}),
        "DynamoDB_20120810.BatchWriteItem (25)": ("dynamodb", {"RequestItems": {"p-orders": [
            {"PutRequest": {"Item": item}} for _ in range(25)]}}),
    }

    def answer(environ, start_response):
        start_response("200 OK", [])
        return [b"{}"]

    for name, (service, payload) in hot.items():
        raw = json.dumps(payload).encode()
        spent = {}
        for enforce in (False, True):
            layer = Authorizer(answer, enforce)
            started = time.perf_counter()
            for _ in range(calls):
                environ = {"HTTP_X_AMZ_TARGET": name.split(" ")[0], "REQUEST_METHOD": "POST",
                           "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw),
                           "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={key}/20260101/"
                                                 f"{region}/{service}/aws4_request"}
                body = layer(environ, lambda status, headers: None)
                assert body == [b"{}"], body
            spent[enforce] = (time.perf_counter() - started) / calls * 1e6
        print(f"layer: {name}, {len(raw):,} bytes: {spent[True]:,.0f} us a call enforced, "
              f"{spent[False]:,.1f} us off", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=None)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    source = args.source or common.default_source()
    print(f"machine: {common.machine()}")
    layer_cost()
    if args.rounds == 0:
        return
    print(f"source: {source}, {args.count:,} lines per round")
    rates: dict[str, list[float]] = {"on": [], "off": []}
    cpus: dict[str, list[float]] = {"on": [], "off": []}
    for number in range(args.rounds):
        mode = ORDER[number % len(ORDER)]
        found = one_round(source, args.count, mode, args.timeout)
        rates[mode].append(found["rate"])
        cpus[mode].append(sum(found["cpu"].values()))
        print(f"round {number + 1} IAM {mode:3}: {found['stored']:,} stored, missing "
              f"{found['missing']}, {found['wall']:.1f} s = {found['rate']:,.0f} lines/s, "
              f"latency p50 {found['p50']} ms; CPU s " + ", ".join(
                  f"{name} {seconds:.1f}" for name, seconds in found["cpu"].items())
              + f"; emulator IAM {found['iam']}", flush=True)
    on, off = statistics.mean(rates["on"]), statistics.mean(rates["off"])
    print(f"mean lines/s: IAM on {on:,.0f}, off {off:,.0f}; on / off = {on / off:.3f}")
    cpu_on, cpu_off = statistics.mean(cpus["on"]), statistics.mean(cpus["off"])
    print(f"mean CPU s of the stack's processes: IAM on {cpu_on:.1f}, off {cpu_off:.1f}; "
          f"on / off = {cpu_on / cpu_off:.3f}")


if __name__ == "__main__":
    main()

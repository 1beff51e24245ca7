"""What the emulator benchmarks share: emulators, the dataset, the table, timing, the CLI.

Not a benchmark itself. Every figure a script prints is measured in that one run."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orderhist import aws, emulator, records, schema
from orderhist.emulator.fastpath import HANDLER_TIME_HEADER
from orderhist.state import Home

REGION = "us-east-1"
REAL_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail.parquet"


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
            f"load average {load[0]:.1f}/{load[1]:.1f} at start, "
            f"speed probe {speed_probe_ms():.0f} ms")


def speed_probe_ms() -> float:
    """A fixed pure-Python loop, timed: this shared machine runs it in ~230 ms at its best
    and in ~650 ms when the host is busy, which no load average shows. Absolute figures
    from two runs compare only at similar probe times; ratios within a run always do."""
    import time

    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(3_000_000):
            total += i * i
        best = min(best, time.perf_counter() - started)
    return best * 1000


def default_source() -> Path:
    if REAL_DATASET.exists():
        return REAL_DATASET
    made = Path(tempfile.gettempdir()) / "orderhist-bench-synthetic.csv"
    if not made.exists():
        from orderhist.dataset import write_synthetic

        write_synthetic(made, 541_909, 1)
    return made


def dataset_lines(source: Path, limit: int | None = None) -> list:
    from orderhist.dataset import iter_lines

    out = []
    for _, line in iter_lines(source):
        if isinstance(line, records.OrderLine):
            out.append(line)
            if limit and len(out) >= limit:
                break
    return out


def start_emulator(fast: bool = True, faults: float = 0.0) -> tuple[Home, aws.Target]:
    home = Home(Path(tempfile.mkdtemp(prefix="orderhist-bench-emu-")))
    home.make_dirs()
    env = aws.local_child_environment(REGION)
    env[emulator.FAST_ENV] = "1" if fast else "0"
    endpoint = emulator.start(home, env, timeout=60)
    if faults:
        emulator.control(endpoint, "faults", {"rate": faults, "seed": 1})
    return home, aws.Target(aws.LOCAL, REGION, endpoint)


def stats(target: aws.Target) -> dict:
    return emulator.control(target.endpoint_url, "stats")


def make_table(dynamodb, name: str) -> None:
    """The project's table, keys and index as `up` makes them."""
    dynamodb.create_table(**schema.table_shape(name))


def make_stream(kinesis, name: str, shards: int = 1) -> None:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})


def items_of(lines) -> list[dict]:
    stamp = records.utc_now_iso_ms()
    out, seen = [], set()
    for line in lines:
        item = records.to_item(line, stamp)
        key = schema.key_of(item)
        if key not in seen:  # a batch may not hold one key twice
            seen.add(key)
            out.append(item)
    return out


def batch_write(dynamodb, table: str, items: list[dict]) -> float:
    """Write with BatchWriteItem of 25 from this one client; seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        while requests:
            reply = dynamodb.batch_write_item(RequestItems={table: requests})
            requests = reply.get("UnprocessedItems", {}).get(table, [])
    return time.perf_counter() - started


def put_records(kinesis, stream: str, datas: list[bytes], keys: list[str]) -> float:
    """PutRecords of 500 from this one client; seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(datas), 500):
        batch = [{"Data": d, "PartitionKey": k}
                 for d, k in zip(datas[start:start + 500], keys[start:start + 500])]
        while batch:
            reply = kinesis.put_records(StreamName=stream, Records=batch)
            batch = [r for r, out in zip(batch, reply["Records"]) if "ErrorCode" in out]
    return time.perf_counter() - started


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary_ms(values: list[float]) -> str:
    return (f"p50 {statistics.median(values) * 1000:.1f} ms, p99 {pct(values, 99) * 1000:.1f} "
            f"ms (n={len(values)})")


class RawCaller:
    """Signed requests over one kept-alive connection, the reply unparsed: the round trip
    without boto3's ~10 ms of parsing 100 items. Also reads the emulator's handler time."""

    def __init__(self, target: aws.Target, service: str):
        import http.client
        from urllib.parse import urlsplit

        self.client = aws.client(service, target)
        self.service = service
        url = urlsplit(target.endpoint_url)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        self.prefix = {"dynamodb": "DynamoDB_20120810", "kinesis": "Kinesis_20131202"}[service]
        self.version = {"dynamodb": "1.0", "kinesis": "1.1"}[service]

    def call(self, operation: str, body: dict) -> tuple[float, float, bytes]:
        """(round trip s, handler s, body)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        data = json.dumps(body).encode()
        request = AWSRequest(method="POST", url=self.client.meta.endpoint_url + "/", data=data,
                             headers={"X-Amz-Target": f"{self.prefix}.{operation}",
                                      "Content-Type": f"application/x-amz-json-{self.version}"})
        credentials = self.client._request_signer._credentials
        SigV4Auth(credentials, self.service, REGION).add_auth(request)
        started = time.perf_counter()
        self.connection.request("POST", "/", body=data, headers=dict(request.headers))
        reply = self.connection.getresponse()
        payload = reply.read()
        elapsed = time.perf_counter() - started
        handler = float(reply.getheader(HANDLER_TIME_HEADER) or "nan") / 1e6
        if reply.status != 200:
            raise RuntimeError(f"{operation}: HTTP {reply.status}: {payload[:200]!r}")
        return elapsed, handler, payload


def orderhist(home: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "orderhist", "--home", str(home), *args],
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"orderhist {' '.join(args)} failed ({result.returncode}): "
                         f"{result.stderr.strip()[-2000:]}")
    return result


def stack_endpoint(home: Path) -> aws.Target:
    state = json.loads((home / "state.json").read_text())
    return aws.Target(aws.LOCAL, state.get("region") or REGION, state["endpoint"])


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its descendants, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        # own user + system time, and that of children it has already reaped
        stats[int(entry.name)] = sum(int(value) for value in fields[11:15]) / ticks
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, 0.0)
        todo += children.get(current, [])
    return total


def stack_pids(home: Path) -> dict[str, int]:
    pids = {}
    for name in ("emulator", "agent", "runtime"):
        try:
            pids[name] = int((home / "run" / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            pass
    return pids


def peak_rss_mb(target: aws.Target) -> float:
    return stats(target)["peak_rss_kb"] / 1024

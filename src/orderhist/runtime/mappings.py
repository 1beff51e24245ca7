"""What the runtime serves, read from the target: the enabled Kinesis event source mappings
and, for each, the function's configuration and the very zip that was deployed."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orderhist import aws
from orderhist.errors import OrderhistError
from orderhist.runtime.filters import FilterError, RecordFilter, parse_filter_criteria
from orderhist.runtime.worker import FunctionSpec

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
DOWNLOAD_TIMEOUT_S = 30


class CodeError(OrderhistError):
    """The deployed code could not be fetched or is not what GetFunction says it is."""


@dataclass(frozen=True)
class MappingConfig:
    uuid: str
    function_arn: str
    stream_arn: str
    batch_size: int = 100
    window_s: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    starting_timestamp: float | None = None
    bisect: bool = False
    report_failures: bool = False
    max_retries: int = -1          # -1: until the record expires
    max_age_s: int = -1            # -1: no limit
    on_failure: str | None = None  # destination ARN
    record_filter: RecordFilter = RecordFilter(())
    encrypted: bool = False  # the stream's server-side encryption (the supervisor finds out)
    # Why the runtime cannot serve this mapping as AWS would; it then serves none of it rather
    # than deliver differently in silence.
    unsupported: str | None = None

    @property
    def stream_name(self) -> str:
        return self.stream_arn.split(":", 5)[5].split("/", 1)[1]

    @property
    def region(self) -> str:
        return self.stream_arn.split(":")[3]


def parse_mapping(raw: dict) -> MappingConfig:
    stamp = raw.get("StartingPositionTimestamp")
    if isinstance(stamp, datetime):
        stamp = stamp.timestamp()
    destination = ((raw.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    unsupported = None
    try:
        record_filter = parse_filter_criteria(raw.get("FilterCriteria"))
    except FilterError as error:
        record_filter, unsupported = RecordFilter(()), f"its FilterCriteria: {error}"
    if int(raw.get("ParallelizationFactor") or 1) > 1:
        unsupported = (f"ParallelizationFactor {raw['ParallelizationFactor']} (the local runtime "
                       "runs one batch per shard at a time): set it to 1")
    if int(raw.get("TumblingWindowInSeconds") or 0) > 0:
        unsupported = (f"TumblingWindowInSeconds {raw['TumblingWindowInSeconds']} (the local "
                       "runtime keeps no window state): set it to 0")
    return MappingConfig(
        uuid=raw["UUID"],
        function_arn=raw["FunctionArn"],
        stream_arn=raw["EventSourceArn"],
        batch_size=int(raw.get("BatchSize") or 100),
        window_s=float(raw.get("MaximumBatchingWindowInSeconds") or 0),
        starting_position=raw.get("StartingPosition") or "TRIM_HORIZON",
        starting_timestamp=float(stamp) if stamp is not None else None,
        bisect=bool(raw.get("BisectBatchOnFunctionError")),
        report_failures=REPORT_BATCH_ITEM_FAILURES in (raw.get("FunctionResponseTypes") or []),
        max_retries=_int(raw.get("MaximumRetryAttempts"), -1),
        max_age_s=_int(raw.get("MaximumRecordAgeInSeconds"), -1),
        on_failure=destination or None,
        record_filter=record_filter,
        unsupported=unsupported,
    )


def _int(value, default: int) -> int:
    return default if value is None else int(value)


def enabled_kinesis_mappings(lambda_client) -> list[MappingConfig]:
    found = []
    for page in lambda_client.get_paginator("list_event_source_mappings").paginate():
        for raw in page.get("EventSourceMappings", []):
            if ":kinesis:" not in raw.get("EventSourceArn", ""):
                continue
            if raw.get("State", "Enabled") not in ("Enabled", "Enabling", "Updating"):
                continue
            found.append(parse_mapping(raw))
    return found


def load_function(lambda_client, function_arn: str, code_root: Path, target: aws.Target,
                  known: FunctionSpec | None = None) -> FunctionSpec:
    """The function as deployed now. The zip is fetched only when CodeSha256 changed."""
    reply = lambda_client.get_function(FunctionName=function_arn)
    config = reply["Configuration"]
    sha = config["CodeSha256"]
    if known is not None and known.code_sha256 == sha and Path(known.code_dir).is_dir():
        code_dir = Path(known.code_dir)
    else:
        code_dir = code_root / config["FunctionName"] / _dir_name(sha)
        if not code_dir.is_dir():
            location = (reply.get("Code") or {}).get("Location")
            if not location:
                raise CodeError(f"GetFunction gave no code location for {function_arn}")
            unpack(download(location, target), sha, code_dir)
    variables = (config.get("Environment") or {}).get("Variables") or {}
    return FunctionSpec(
        arn=config["FunctionArn"],
        name=config["FunctionName"],
        handler=config.get("Handler") or "",
        runtime=config.get("Runtime") or "",
        role=config.get("Role") or "",
        timeout_s=float(config.get("Timeout") or 3),
        memory_mb=int(config.get("MemorySize") or 128),
        code_sha256=sha,
        code_dir=str(code_dir),
        environment=tuple(sorted(variables.items())),
    )


def _dir_name(sha256_b64: str) -> str:
    return base64.b64decode(sha256_b64).hex()[:32]


def download(location: str, target: aws.Target) -> bytes:
    handlers = []
    if target.is_local:
        # The emulator is on this machine: a proxy from the environment must not intercept it.
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(location, timeout=DOWNLOAD_TIMEOUT_S) as reply:
            return reply.read()
    except OSError as error:
        raise CodeError(f"could not download the function's code: {error}") from error


def unpack(zip_bytes: bytes, expected_sha256: str, code_dir: Path) -> None:
    """Check the bytes against CodeSha256, then unpack so the directory appears whole or not
    at all (a crash half-way leaves only a temporary directory)."""
    actual = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")
    if actual != expected_sha256:
        raise CodeError(f"the downloaded code's SHA-256 {actual} is not the deployed "
                        f"CodeSha256 {expected_sha256}")
    code_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=code_dir.parent, prefix=".unpack-"))
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            for member in archive.infolist():
                if member.filename.startswith("/") or ".." in Path(member.filename).parts:
                    raise CodeError(f"the function's zip holds an unsafe path {member.filename!r}")
            archive.extractall(scratch)
        try:
            os.replace(scratch, code_dir)
        except OSError:
            if not code_dir.is_dir():
                raise
            shutil.rmtree(scratch, ignore_errors=True)  # the same bytes, unpacked already
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise

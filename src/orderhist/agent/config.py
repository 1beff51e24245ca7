"""agent.json: the Amazon Kinesis Agent's schema, checked before anything starts.

The real agent's keys and ranges are kept (so a config written for it works here), with two
deliberate differences: maxBufferAgeMillis goes down to 50 ms and defaults to 500 ms, because
the use case is an order showing up at once; and the checkpoint file defaults to a path beside
the config rather than /var/run, which Amazon Linux wipes on reboot (a full re-send).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderhist.errors import UsageProblem
from orderhist.schema import CUSTOMER_ID, LOG_COLUMNS

MIB = 1024 * 1024
# PutRecords' own limits: the buffer can never be bigger than one call.
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * MIB
MIN_BUFFER_AGE_MS = 50
MAX_BUFFER_AGE_MS = 900_000
DEFAULT_BUFFER_AGE_MS = 500
DEFAULT_POLL_MS = 25

RANDOM = "RANDOM"
DETERMINISTIC = "DETERMINISTIC"
START_OF_FILE = "START_OF_FILE"
END_OF_FILE = "END_OF_FILE"
CSVTOJSON = "CSVTOJSON"

# Keys of the real agent that make no difference here: accepted with a note, so a config
# written for the Java agent runs unchanged.
IGNORED_TOP_KEYS = {
    "checkpointTimeToLiveDays": "checkpoints of files that are gone are dropped at once",
    "maxSendingThreads": "one PutRecords call is in flight per flow, which keeps order",
    "cloudwatch.emitMetrics": "counters go to the stats file instead",
    "cloudwatch.endpoint": "counters go to the stats file instead",
    "firehose.endpoint": "Firehose is not supported",
    "sts.endpoint": "credentials come from the standard chain",
    "awsAccessKeyId": "credentials come from the standard chain",
    "awsSecretAccessKey": "credentials come from the standard chain",
    "assumeRoleExternalId": "credentials come from the standard chain",
    "awsSessionToken": "credentials come from the standard chain",
    "connectionTimeoutMillis": "fixed timeouts are used",
    "socketTimeoutMillis": "fixed timeouts are used",
    "maxConnections": "one connection per flow is enough",
    "useHttpGzip": "not needed",
    "useTcpKeepAlive": "not needed",
    "log.level": "use --verbose",
}
IGNORED_FLOW_KEYS = {
    "truncatedRecordTerminator": "records are never truncated (oversized ones go to the "
                                 "dead-letter file)",
    "maxTimeBetweenFileTrackerRefreshMillis": "the directory is listed on every poll",
    "publishQueueCapacity": "the buffer is bounded by maxBufferSizeRecords/Bytes",
    "waitOnFullPublishQueueMillis": "not needed",
    "waitOnEmptyPublishQueueMillis": "buffer age is checked on time, not on arrivals",
    "fileFooterPattern": "not supported; footer lines are sent like any other",
}
KNOWN_PROCESSING = {"SINGLELINE", "CSVTOJSON", "LOGTOJSON", "ADDMETADATA", "ADDEC2METADATA",
                    "ADDBRACKETS", "USINGPLUGGIN"}


@dataclass(frozen=True)
class CsvToJson:
    field_names: tuple[str, ...]
    delimiter: str = ","
    pretty: bool = False


@dataclass(frozen=True)
class FlowConfig:
    file_pattern: str
    directory: Path
    name_glob: str
    stream: str
    partition_key: str = RANDOM  # RANDOM, DETERMINISTIC or a field name
    initial_position: str = END_OF_FILE
    max_buffer_age_ms: int = DEFAULT_BUFFER_AGE_MS
    max_buffer_records: int = MAX_BATCH_RECORDS
    max_buffer_bytes: int = MAX_BATCH_BYTES
    skip_header_lines: int = 0
    csv_to_json: CsvToJson | None = None
    poll_ms: int = DEFAULT_POLL_MS
    retry_initial_ms: int = 100
    retry_max_ms: int = 10_000

    @property
    def flow_id(self) -> str:
        # The checkpoint key: one flow is one stream fed from one pattern, as in the real agent.
        return f"{self.stream}:{self.file_pattern}"


@dataclass(frozen=True)
class AgentConfig:
    flows: tuple[FlowConfig, ...]
    checkpoint_file: Path
    dead_letter_file: Path
    endpoint: str | None = None
    region: str | None = None
    shutdown_timeout_ms: int = 10_000
    # The real agent's assumeRoleARN: PutRecords as that role, assumed with the standard
    # chain's credentials (locally, as the EC2 host's instance profile would give it).
    assume_role_arn: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)


def default_checkpoint_file(config_path: Path) -> Path:
    return config_path.with_name(config_path.stem + ".checkpoints.json")


def load_config(config_path: Path) -> AgentConfig:
    """Read and check agent.json; a problem raises UsageProblem naming the key."""
    config_path = Path(config_path).expanduser().absolute()
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageProblem(f"agent config {config_path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageProblem(f"agent config {config_path} cannot be read: {error}") from None
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise UsageProblem(f"agent config {config_path} is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise UsageProblem(f"agent config {config_path} must be a JSON object with `flows`")
    return parse_config(raw, config_path)


def parse_config(raw: dict[str, Any], config_path: Path) -> AgentConfig:
    warnings: list[str] = []
    known_top = {"flows", "checkpointFile", "deadLetterFile", "kinesis.endpoint",
                 "kinesis.region", "shutdownTimeoutMillis", "assumeRoleARN"}
    for key in raw:
        if key in known_top:
            continue
        if key in IGNORED_TOP_KEYS or key.startswith("userDefinedCredentialsProvider."):
            reason = IGNORED_TOP_KEYS.get(key, "credentials come from the standard chain")
            warnings.append(f"`{key}` is ignored: {reason}")
        else:
            warnings.append(f"unknown key `{key}` is ignored")

    flows_raw = raw.get("flows")
    if not isinstance(flows_raw, list) or not flows_raw:
        raise UsageProblem("`flows` must be a non-empty list in the agent config")
    flows = tuple(_parse_flow(item, f"flows[{i}]", warnings) for i, item in enumerate(flows_raw))
    seen: set[str] = set()
    for i, flow in enumerate(flows):
        if flow.flow_id in seen:
            raise UsageProblem(f"`flows[{i}]` repeats another flow's filePattern and stream")
        seen.add(flow.flow_id)

    checkpoint = _path(raw, "checkpointFile", default_checkpoint_file(config_path))
    dead_letter = _path(raw, "deadLetterFile",
                        checkpoint.with_name(checkpoint.name + ".deadletter.jsonl"))
    for key, path in (("checkpointFile", checkpoint), ("deadLetterFile", dead_letter)):
        if path.is_dir():
            raise UsageProblem(f"`{key}` {path} is a directory, not a file")
    endpoint = _optional_text(raw, "kinesis.endpoint")
    if endpoint and "://" not in endpoint:
        endpoint = "https://" + endpoint  # the Java SDK accepts a bare host name
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise UsageProblem(f"`kinesis.endpoint` {endpoint!r} is not an http(s) URL")
    return AgentConfig(
        flows=flows,
        checkpoint_file=checkpoint,
        dead_letter_file=dead_letter,
        endpoint=endpoint,
        region=_optional_text(raw, "kinesis.region"),
        shutdown_timeout_ms=_int(raw, "shutdownTimeoutMillis", 10_000, 0, 3_600_000,
                                 "shutdownTimeoutMillis"),
        assume_role_arn=_optional_text(raw, "assumeRoleARN"),
        warnings=tuple(warnings),
    )


def _parse_flow(item: object, where: str, warnings: list[str]) -> FlowConfig:
    if not isinstance(item, dict):
        raise UsageProblem(f"`{where}` must be a JSON object")
    known = {"filePattern", "kinesisStream", "partitionKeyOption", "dataProcessingOptions",
             "initialPosition", "maxBufferAgeMillis", "maxBufferSizeRecords",
             "maxBufferSizeBytes", "skipHeaderLines", "minTimeBetweenFilePollsMillis",
             "retryInitialBackoffMillis", "retryMaxBackoffMillis"}
    if "deliveryStream" in item:
        raise UsageProblem(f"`{where}.deliveryStream`: Firehose is not supported; "
                           "use kinesisStream")
    if "multiLineStartPattern" in item:
        raise UsageProblem(f"`{where}.multiLineStartPattern` is not supported: "
                           "every line is one record")
    for key in item:
        if key in known:
            continue
        if key in IGNORED_FLOW_KEYS:
            warnings.append(f"`{where}.{key}` is ignored: {IGNORED_FLOW_KEYS[key]}")
        else:
            warnings.append(f"unknown key `{where}.{key}` is ignored")

    pattern = item.get("filePattern")
    if not isinstance(pattern, str) or not pattern.strip():
        raise UsageProblem(f"`{where}.filePattern` is required (a path with a glob in the "
                           "file name)")
    pattern_path = Path(pattern).expanduser().absolute()
    directory, name_glob = pattern_path.parent, pattern_path.name
    if any(c in str(directory) for c in "*?["):
        raise UsageProblem(f"`{where}.filePattern` {pattern!r}: wildcards are only allowed in "
                           "the file name, not in the directory")
    if not directory.is_dir():
        raise UsageProblem(f"`{where}.filePattern` {pattern!r}: directory {directory} does "
                           "not exist")
    stream = item.get("kinesisStream")
    if not isinstance(stream, str) or not stream.strip():
        raise UsageProblem(f"`{where}.kinesisStream` is required (the stream's name)")

    csv_to_json = _parse_processing(item.get("dataProcessingOptions"), where)
    partition_key = item.get("partitionKeyOption", RANDOM)
    if not isinstance(partition_key, str) or not partition_key.strip():
        raise UsageProblem(f"`{where}.partitionKeyOption` must be RANDOM, DETERMINISTIC or a "
                           "field name")
    if (partition_key not in (RANDOM, DETERMINISTIC) and csv_to_json is not None
            and partition_key not in csv_to_json.field_names):
        raise UsageProblem(f"`{where}.partitionKeyOption` {partition_key!r} is neither RANDOM, "
                           "DETERMINISTIC nor one of CSVTOJSON's customFieldNames")
    position = item.get("initialPosition", END_OF_FILE)
    if position not in (START_OF_FILE, END_OF_FILE):
        raise UsageProblem(f"`{where}.initialPosition` must be START_OF_FILE or END_OF_FILE")
    retry_initial = _int(item, "retryInitialBackoffMillis", 100, 1, 600_000, where)
    return FlowConfig(
        file_pattern=str(pattern_path),
        directory=directory,
        name_glob=name_glob,
        stream=stream.strip(),
        partition_key=partition_key,
        initial_position=position,
        max_buffer_age_ms=_int(item, "maxBufferAgeMillis", DEFAULT_BUFFER_AGE_MS,
                               MIN_BUFFER_AGE_MS, MAX_BUFFER_AGE_MS, where),
        max_buffer_records=_int(item, "maxBufferSizeRecords", MAX_BATCH_RECORDS, 1,
                                MAX_BATCH_RECORDS, where),
        max_buffer_bytes=_int(item, "maxBufferSizeBytes", MAX_BATCH_BYTES, 1, MAX_BATCH_BYTES,
                              where),
        skip_header_lines=_int(item, "skipHeaderLines", 0, 0, 1_000_000, where),
        csv_to_json=csv_to_json,
        poll_ms=_int(item, "minTimeBetweenFilePollsMillis", DEFAULT_POLL_MS, 1, 60_000, where),
        retry_initial_ms=retry_initial,
        retry_max_ms=_int(item, "retryMaxBackoffMillis", max(10_000, retry_initial),
                          retry_initial, 3_600_000, where),
    )


def _parse_processing(options: object, where: str) -> CsvToJson | None:
    if options is None:
        return None
    key = f"{where}.dataProcessingOptions"
    if not isinstance(options, list):
        raise UsageProblem(f"`{key}` must be a list of objects with an optionName")
    found = None
    for i, option in enumerate(options):
        name = option.get("optionName") if isinstance(option, dict) else None
        if name not in KNOWN_PROCESSING:
            raise UsageProblem(f"`{key}[{i}].optionName` must be one of "
                               f"{', '.join(sorted(KNOWN_PROCESSING))}")
        if name != CSVTOJSON:
            raise UsageProblem(f"`{key}[{i}].optionName` {name} is not supported by orderhist's "
                               "agent (only CSVTOJSON is)")
        if found is not None:
            raise UsageProblem(f"`{key}[{i}]`: CSVTOJSON is given twice")
        names = option.get("customFieldNames")
        if (not isinstance(names, list) or not names
                or not all(isinstance(n, str) and n for n in names)):
            raise UsageProblem(f"`{key}[{i}].customFieldNames` must be a non-empty list of "
                               "names")
        if len(set(names)) != len(names):
            raise UsageProblem(f"`{key}[{i}].customFieldNames` repeats a name")
        found = CsvToJson(
            field_names=tuple(names),
            delimiter=_delimiter(option.get("delimiter", ","), f"{key}[{i}].delimiter"),
            pretty=_json_format(option.get("jsonFormat", "COMPACT"), f"{key}[{i}].jsonFormat"),
        )
    return found


def _delimiter(value: object, key: str) -> str:
    # The real agent hands the delimiter to Java's String.split, a regex: configs written for
    # it say "\\t" or "\\|". Those escapes are read as the character they stand for.
    if not isinstance(value, str):
        raise UsageProblem(f"`{key}` must be a one-character string")
    char = value
    if len(value) == 2 and value.startswith("\\"):
        char = "\t" if value == "\\t" else value[1]
    if len(char) != 1 or char in "\"\r\n":
        raise UsageProblem(f"`{key}` must be one character other than a quote or a line end "
                           f"(got {value!r})")
    return char


def _json_format(value: object, key: str) -> bool:
    if value not in ("COMPACT", "PRETTYPRINT"):
        raise UsageProblem(f"`{key}` must be COMPACT or PRETTYPRINT")
    return value == "PRETTYPRINT"


def _int(obj: dict[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    name = key if where == key else f"{where}.{key}"
    value = obj.get(key, default)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())  # the Java agent's config reader takes "500" too
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageProblem(f"`{name}` must be a whole number")
    if not low <= value <= high:
        raise UsageProblem(f"`{name}` is {value}, outside {low}..{high}")
    return value


def _optional_text(obj: dict[str, Any], key: str) -> str | None:
    # "" means not set: the Kinesis Agent's own default agent.json ships
    # "kinesis.endpoint": "", and the real agent skips it (Strings.isNullOrEmpty).
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageProblem(f"`{key}` must be a string")
    return value.strip() or None


def _path(obj: dict[str, Any], key: str, default: Path) -> Path:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise UsageProblem(f"`{key}` must be a file path")
    return Path(value).expanduser().absolute()


def local_agent_config(*, log_dir: Path, stream_name: str, endpoint: str, region: str,
                       checkpoint_file: Path, buffer_age_ms: int = 100,
                       role_arn: str | None = None) -> dict[str, Any]:
    """The agent.json `orderhist up` writes for the local stack.

    Partitioned by CustomerID so a customer's lines stay in order on one shard; a guest line
    (no customer) is keyed by its InvoiceNo, the first column (see processing.partition_key).
    """
    return {
        "checkpointFile": str(checkpoint_file),
        **({"assumeRoleARN": role_arn} if role_arn else {}),
        "kinesis.endpoint": endpoint,
        "kinesis.region": region,
        "flows": [{
            "filePattern": str(Path(log_dir) / "*.log"),
            "kinesisStream": stream_name,
            "partitionKeyOption": CUSTOMER_ID,
            "initialPosition": START_OF_FILE,
            "maxBufferAgeMillis": buffer_age_ms,
            "maxBufferSizeRecords": MAX_BATCH_RECORDS,
            "maxBufferSizeBytes": MAX_BATCH_BYTES,
            "dataProcessingOptions": [{
                "optionName": CSVTOJSON,
                "customFieldNames": list(LOG_COLUMNS),
                "delimiter": ",",
            }],
        }],
    }

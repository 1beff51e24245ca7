"""From a line of a file to a Kinesis record: CSVTOJSON, the partition key, the size limit.

CSVTOJSON follows the real agent's output (keys in customFieldNames order, every value a
string, missing columns null, extra columns dropped, compact JSON ending in "\\n") but reads
the line as RFC 4180 CSV, so a quoted description with commas or doubled quotes stays one
field. As in the real agent, a line that cannot be converted is sent as it was written.
Values are copied as the line holds them: the generator's backslash escapes (records'
docstring) stay escaped in the JSON, as the real agent would leave them, and the handler's
parse_json undoes them, so both agents' output reads the same.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderhist.agent.config import DETERMINISTIC, RANDOM, FlowConfig
from orderhist.records import split_csv_line

# Kinesis counts the partition key into the 1 MiB record limit.
MAX_RECORD_BYTES = 1024 * 1024
MAX_PARTITION_KEY_CHARS = 256


@dataclass(frozen=True)
class Converted:
    data: bytes
    partition_key: str
    converted: bool  # False when CSVTOJSON was asked for but the raw line went out instead

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


class LineProcessor:
    def __init__(self, flow: FlowConfig):
        self.flow = flow
        self._random = random.Random()
        # One encoder made up front: json.dumps with options builds a new one per call.
        if flow.csv_to_json is not None and flow.csv_to_json.pretty:
            self._encode = json.JSONEncoder(ensure_ascii=False, indent=2).encode
        else:
            self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def convert(self, line: bytes) -> Converted:
        """`line` is one whole line of the file, its "\\n" included."""
        fields: dict[str, str | None] | None = None
        data = line
        converted = True
        spec = self.flow.csv_to_json
        if spec is not None:
            try:
                values = split_csv_line(line.decode("utf-8"), spec.delimiter)
            except (UnicodeDecodeError, csv.Error):
                converted = False
            else:
                fields = dict(zip(spec.field_names, values))
                if len(values) < len(spec.field_names):
                    fields.update((name, None) for name in spec.field_names[len(values):])
                data = (self._encode(fields) + "\n").encode("utf-8")
        return Converted(data, self.partition_key(data, fields, line), converted)

    def partition_key(self, data: bytes, fields: Mapping[str, object] | None, line: bytes) -> str:
        option = self.flow.partition_key
        if option == RANDOM:
            # The real agent's key: a random decimal below a million, as a string.
            return repr(self._random.uniform(0, 1_000_000))
        if option == DETERMINISTIC:
            return hashlib.md5(data).hexdigest()
        if fields is None and line.lstrip().startswith(b"{"):
            fields = _json_object(line)
        key = None
        if fields is not None:
            key = _text(fields.get(option))
            if key is None and fields:
                # A line without the field (a guest order has no CustomerID) is keyed by its
                # first field, the InvoiceNo in an order line: its lines still stay together.
                key = _text(next(iter(fields.values())))
        if key is None:
            return hashlib.md5(data).hexdigest()
        if len(key) > MAX_PARTITION_KEY_CHARS:
            return hashlib.md5(key.encode("utf-8")).hexdigest()
        return key


def _json_object(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


class DeadLetters:
    """Records Kinesis cannot take (over 1 MiB): kept whole, one JSON object per line.

    The line is stored base64-encoded because it may not be valid UTF-8; cutting it to fit,
    as the real agent does, would send a corrupt order that looks valid.
    """

    def __init__(self, path: Path):
        self.path = path

    def write(self, *, stream: str, source: str, offset: int, line: bytes, size: int,
              reason: str, at: str) -> None:
        entry = {
            "at": at, "stream": stream, "file": source, "offset": offset, "bytes": size,
            "reason": reason, "lineBase64": base64.b64encode(line).decode("ascii"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            # The line is acknowledged (checkpointed past) right after: it must be on disk.
            os.fsync(handle.fileno())


def read_dead_letters(path: Path) -> list[dict[str, Any]]:
    """Each dead letter with its line decoded back to bytes under "line"."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    letters = []
    for row in text.splitlines():
        if row.strip():
            entry = json.loads(row)
            entry["line"] = base64.b64decode(entry["lineBase64"])
            letters.append(entry)
    return letters

"""Refused records, kept in the table beside the order lines: their key, their item form, and
how one is matched back to the generated line it carried.

Shipped in the Lambda zip beside `records` (the handler writes them); standard library only.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from orderhist import schema
from orderhist.records import normalise_line_no
from orderhist.schema import EMITTED_AT, LINE_NO, LINE_NO_DIGITS

# Refused records, kept in the table beside the order lines. A queue cannot be read whole (a
# receive is a sample, hiding what it read, and on AWS an empty receive proves nothing), a
# partition can: a Query, in order, complete. The key is the record's own identity (shard and
# sequence number), so a record refused again on a re-delivery overwrites itself.
# Two families of partitions: records that carry a generated line's LineNo and EmittedAt,
# sorted by emission (a `generate --wait` asks for exactly its own run's range, whatever
# else was refused), and everything else, sorted by arrival. A few partitions of each, not
# one, keep a flood of poison under DynamoDB's per-partition write rate; no customer id
# holds a "#".

REJECTS_PREFIX = "REJECTS#"
REJECT_PARTITIONS = 4


def reject_partitions() -> list[str]:
    return [f"{REJECTS_PREFIX}{n}" for n in range(REJECT_PARTITIONS)] + line_reject_partitions()


def line_reject_partitions() -> list[str]:
    return [f"{REJECTS_PREFIX}L{n}" for n in range(REJECT_PARTITIONS)]


def is_reject_partition(partition_key: str) -> bool:
    return partition_key.startswith(REJECTS_PREFIX)


def reject_key(reject: dict[str, Any]) -> dict[str, dict[str, Any]]:
    shard, sequence = reject["shardId"], reject["sequenceNumber"]
    line_no, emitted = reject.get("lineNo"), reject.get("emittedAt")
    if line_no is not None and emitted:
        partition = f"{REJECTS_PREFIX}L{int(line_no) % REJECT_PARTITIONS}"
        sort_key = f"{emitted}#{int(line_no):0{LINE_NO_DIGITS}d}#{shard}#{sequence}"
    else:
        spread = sum(sequence.encode("ascii", "replace")) % REJECT_PARTITIONS
        partition = f"{REJECTS_PREFIX}{spread}"
        sort_key = f"{reject['arrivedAt']}#{shard}#{sequence}"
    return schema.key(partition, sort_key)


# The generated line's identity a refused record carries, which `generate --wait` matches.
REFUSED_LINE_NO, REFUSED_EMITTED_AT = "RefusedLineNo", "RefusedEmittedAt"
# The reject's JSON keys (what `orderhist rejects --json` prints) and the item's attributes.
_REJECT_TEXT_FIELDS = {"reason": "Reason", "data": "Data", "dataEncoding": "DataEncoding",
                       "shardId": "ShardId", "sequenceNumber": "SequenceNumber",
                       "eventSourceARN": "EventSourceARN", "rejectedAt": "RejectedAt",
                       "arrivedAt": "ArrivedAt", "emittedAt": REFUSED_EMITTED_AT}


def reject_to_item(reject: dict[str, Any]) -> dict[str, dict[str, Any]]:
    item = reject_key(reject)
    for field, attribute in _REJECT_TEXT_FIELDS.items():
        if reject.get(field) is not None:
            item[attribute] = {"S": str(reject[field])}
    item["Truncated"] = {"BOOL": bool(reject.get("truncated"))}
    if reject.get("lineNo") is not None:
        item[REFUSED_LINE_NO] = {"N": str(int(reject["lineNo"]))}
    if reject.get("approximateArrivalTimestamp") is not None:
        item["ApproximateArrivalTimestamp"] = {"N": repr(reject["approximateArrivalTimestamp"])}
    return item


def reject_from_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    reject: dict[str, Any] = {field: item[attribute]["S"]
                              for field, attribute in _REJECT_TEXT_FIELDS.items()
                              if attribute in item}
    reject["truncated"] = item.get("Truncated", {}).get("BOOL", False)
    if REFUSED_LINE_NO in item:
        reject["lineNo"] = int(item[REFUSED_LINE_NO]["N"])
    if "ApproximateArrivalTimestamp" in item:
        reject["approximateArrivalTimestamp"] = float(item["ApproximateArrivalTimestamp"]["N"])
    return reject


def iso_from_epoch(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_EMITTED_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def raw_identity(text: str) -> tuple[int, str] | None:
    """(LineNo, EmittedAt) of a raw record, however malformed the rest of it is: how a
    refused record is matched back to the line a generator wrote."""
    try:
        text = text.strip()
        if text.startswith("{"):
            obj = json.loads(text)
            line_no, emitted = obj.get(LINE_NO), obj.get(EMITTED_AT)
        else:
            # The last two fields, read from the end: the rest may be anything.
            head, _, emitted = text.rpartition(",")
            line_no = head.rpartition(",")[2]
        emitted = emitted.strip('"') if isinstance(emitted, str) else ""
        if not _EMITTED_RE.match(emitted):
            return None
        return normalise_line_no(line_no), emitted
    # A refused record is whatever bytes were sent: no parse failure may escape from here.
    except (ValueError, TypeError, AttributeError):
        return None

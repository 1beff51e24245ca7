"""`orderhist rejects` for people: every reject grouped by its reason (count, first and last
seen, one example shown literally), and `--clear`: delete exactly what was listed.

A listing is held while it is shown: refused records are items in the table's rejects
partitions (deleted by their keys), given-up batches are messages on the queue, kept hidden
by `rejects.HeldQueue` until the listing ends, so `--clear` deletes the very copies it
listed and a batch that arrives meanwhile stays.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from orderhist import aws, aws_errors, refusals, schema
from orderhist.rejects import HeldQueue, _identity, _query, is_batch_info

WRITE_BATCH = 25
# Values inside a reason ('abc', 12.5, a date) vary from record to record; the reason's words
# are what a person groups by.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\b\d[\d.:TZ+-]*\b")


@dataclass
class Entry:
    reject: dict
    table_key: dict | None = None                # a refused record's item key
    handles: list[str] = field(default_factory=list)  # a given-up batch's receipt handles


@dataclass
class Group:
    reason: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def first_seen(self) -> str | None:
        return min(self._seen(), default=None)

    @property
    def last_seen(self) -> str | None:
        return max(self._seen(), default=None)

    def _seen(self) -> list[str]:
        return [stamp for e in self.entries if (stamp := seen_at(e.reject))]

    @property
    def example(self) -> str:
        return example_of(self.entries[-1].reject)


def reason_of(reject: dict) -> str:
    if is_batch_info(reject):
        context = reject.get("requestContext", {})
        return f"batch given up ({context.get('condition')})"
    text = str(reject.get("reason", "no reason given"))
    return _NUMBER.sub("N", _QUOTED.sub("'…'", text))


def seen_at(reject: dict) -> str | None:
    if is_batch_info(reject):
        return reject.get("timestamp")
    return reject.get("arrivedAt") or reject.get("rejectedAt")


def example_of(reject: dict) -> str:
    if is_batch_info(reject):
        info = reject["KinesisBatchInfo"]
        return (f"{info.get('batchSize')} record(s) of {info.get('shardId')} "
                f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')}")
    return str(reject.get("data", ""))


def group(entries: list[Entry]) -> list[Group]:
    """Largest group first; equal ones by their last reject, newest first."""
    groups: dict[str, Group] = {}
    for entry in entries:
        groups.setdefault(reason_of(entry.reject), Group(reason_of(entry.reject))) \
            .entries.append(entry)
    return sorted(groups.values(), key=lambda g: (-g.count, _desc(g.last_seen or "")))


def _desc(text: str) -> list[int]:
    return [-ord(c) for c in text]


class Listing:
    """Every reject, with what deleting it takes; a `with` block holds the queue's copies."""

    def __init__(self, target: aws.Target, table: str | None, queue_url: str | None):
        self.target, self.table, self.queue_url = target, table, queue_url
        self.held = HeldQueue(target, queue_url) if queue_url else None
        self.entries: list[Entry] = []
        self.table_missing = False

    def __enter__(self) -> Listing:
        if self.table:
            try:
                self._read_table()
            except Exception as error:
                if not aws_errors.is_missing(error):
                    raise
                self.table_missing = True
        if self.held is not None:
            self.held.__enter__()
            known = {_identity(e.reject) for e in self.entries}
            for body, handles in self.held.distinct():
                if is_batch_info(body) or _identity(body) not in known:
                    self.entries.append(Entry(body, None, handles))
        return self

    def __exit__(self, *exc) -> None:
        if self.held is not None:
            self.held.release()

    @property
    def unread(self) -> int:
        return self.held.unread if self.held is not None else 0

    def _read_table(self) -> None:
        assert self.table is not None  # read only when the stack has one
        dynamodb = aws.client("dynamodb", self.target)
        found = []
        for partition in refusals.reject_partitions():
            for item in _query(dynamodb, self.table, partition):
                found.append(Entry(refusals.reject_from_item(item),
                                   schema.key(*schema.key_of(item))))
        found.sort(key=lambda e: (e.reject.get("arrivedAt", ""), e.reject.get("shardId", ""),
                                  len(e.reject.get("sequenceNumber", "")),
                                  e.reject.get("sequenceNumber", "")))
        self.entries = found + self.entries

    def delete(self, entries: list[Entry]) -> int:
        """Delete these rejects: items by key, queue copies by receipt handle."""
        keys = [e.table_key for e in entries if e.table_key]
        dynamodb = aws.client("dynamodb", self.target)
        for start in range(0, len(keys), WRITE_BATCH):
            # Table keys exist only where a table was read.
            request: dict | None = {self.table: [{"DeleteRequest": {"Key": key}}
                                                 for key in keys[start:start + WRITE_BATCH]]}
            while request:
                request = dynamodb.batch_write_item(RequestItems=request) \
                    .get("UnprocessedItems") or None
        handles = [handle for e in entries for handle in e.handles]
        if handles and self.held is not None:
            self.held.delete(handles)
        return len(entries)

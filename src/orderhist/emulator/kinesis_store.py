"""Kinesis internals replaced inside the emulator process (moto 5.2, moto/kinesis/models.py).

`Shard.records` is an OrderedDict of consecutive sequence numbers, yet moto's append copies
every key to find the last one and GetRecords walks from the first record: a stream's fill is
O(n^2) and each read O(n). Here the records live in a list behind the same mapping
interface: the append is O(1), GetRecords slices from the iterator's position, AT_TIMESTAMP
bisects, and each record is stored slim (payload as bytes, partition keys shared).
"""
from __future__ import annotations

import base64
import binascii
import datetime
import time
from bisect import bisect_left
from collections.abc import Mapping

EPOCH = datetime.datetime(1970, 1, 1)
US_PER_DAY = 86_400_000_000
# Partition keys shared between records; cleared when full.
SHARED_CAP = 1 << 17
# AWS's sequence numbers are 56-digit decimal strings that grow within a shard and differ
# between shards. A shard's records are numbered on from 49 x 10^54 + its number x 10^34.
SEQUENCE_BASE = 49 * 10**54
SHARD_STRIDE = 10**34


def sequence_base(shard) -> int:
    """The number before a shard's first record (its first record is this + 1)."""
    return SEQUENCE_BASE + shard._shard_id * SHARD_STRIDE


class SlimRecord:
    """moto's kinesis Record, in a third of the memory: same attributes and to_json()."""
    __slots__ = ("partition_key", "payload", "sequence_number", "explicit_hash_key", "at_us")

    def __init__(self, partition_key, payload, sequence_number, explicit_hash_key, at_us):
        self.partition_key = partition_key
        self.payload = payload  # bytes; a str only if it was not valid base64
        self.sequence_number = sequence_number
        self.explicit_hash_key = explicit_hash_key
        self.at_us = at_us  # microseconds since the epoch, UTC

    @property
    def data(self) -> str:
        if type(self.payload) is bytes:
            return base64.b64encode(self.payload).decode("ascii")
        return self.payload

    @property
    def created_at_datetime(self) -> datetime.datetime:
        return EPOCH + datetime.timedelta(microseconds=self.at_us)

    @property
    def created_at(self) -> float:
        # The very arithmetic of moto.core.utils.unix_time, so comparisons agree with stock.
        days, rest = divmod(self.at_us, US_PER_DAY)
        seconds, micros = divmod(rest, 1_000_000)
        return (days * 86400) + (seconds + (micros / 1e6))

    def arrival_timestamp(self):
        """ApproximateArrivalTimestamp as moto's serializer writes it (ms, truncated)."""
        seconds, micros = divmod(self.at_us, 1_000_000)
        return seconds + (micros // 1000) / 1000.0 if micros else seconds

    def to_json(self) -> dict:
        return {
            "Data": base64.b64decode(self.data),
            "PartitionKey": self.partition_key,
            "SequenceNumber": str(self.sequence_number),
            "ApproximateArrivalTimestamp": self.created_at_datetime,
        }


class RecordLog(Mapping):
    """A shard's records as moto's `Shard.records` mapping (sequence number -> record), held
    in a list: sequence numbers are consecutive from `first`, so a record is found by
    subtraction, the last one is O(1), and an entry costs a list slot instead of an
    OrderedDict node. Records are only ever appended."""
    __slots__ = ("first", "entries")

    def __init__(self, first: int = 1):
        self.first = first
        self.entries: list = []

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, sequence):
        offset = sequence - self.first if type(sequence) is int else -1
        if 0 <= offset < len(self.entries):
            return self.entries[offset]
        raise KeyError(sequence)

    def __iter__(self):
        return iter(range(self.first, self.first + len(self.entries)))

    def __reversed__(self):
        return reversed(range(self.first, self.first + len(self.entries)))

    def __setitem__(self, sequence, record) -> None:
        if sequence != self.first + len(self.entries):
            raise KeyError(f"records are appended in sequence, not at {sequence}")
        self.entries.append(record)


def decode_payload(data):
    if type(data) is bytes:
        return data
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, TypeError, ValueError):
        return data


_partition_keys: dict[str, str] = {}


def shared_key(key: str) -> str:
    """One string object per partition key in use (they repeat: a customer's lines)."""
    found = _partition_keys.get(key)
    if found is None:
        if len(_partition_keys) >= SHARED_CAP:
            _partition_keys.clear()
        found = _partition_keys[key] = key
    return found


def install(lock, patch) -> None:
    from moto.kinesis.models import Shard

    stock_init = Shard.__init__
    stock_get_records = Shard.get_records

    def init(self, *args, **kwargs):
        stock_init(self, *args, **kwargs)
        self.records = RecordLog(sequence_base(self) + 1)

    def log_of(self) -> RecordLog:
        records = self.records
        if type(records) is not RecordLog:
            with lock:
                records = self.records
                if type(records) is not RecordLog:
                    # moto's split_shard leaves the closed parent an empty OrderedDict.
                    log = RecordLog(next(iter(records)) if records
                                    else sequence_base(self) + 1)
                    for sequence in records:
                        log[sequence] = records[sequence]
                    self.records = records = log
        return records

    def append(self, partition_key, payload, explicit_hash_key) -> int:
        with lock:
            log = log_of(self)
            entries = log.entries
            now = time.time_ns() // 1000
            # Arrival times never go backwards, so AT_TIMESTAMP can bisect.
            at_us = max(now, entries[-1].at_us) if entries else now
            sequence = log.first + len(entries)
            entries.append(SlimRecord(shared_key(partition_key), payload, sequence,
                                      explicit_hash_key, at_us))
        return sequence

    def put_record(self, partition_key, data, explicit_hash_key):
        return str(append(self, partition_key, decode_payload(data), explicit_hash_key))

    def bounds(self):
        records = self.records
        if type(records) is RecordLog:
            count = len(records.entries)
            return (records.first, records.first + count - 1) if count else (0, 0)
        with lock:
            if not records:
                return 0, 0
            return next(iter(records)), next(reversed(records))

    def get_records(self, last_sequence_id, limit):
        last = int(last_sequence_id)
        records = self.records
        if type(records) is not RecordLog:
            return stock_get_records(self, last_sequence_id, limit)
        first, entries = records.first, records.entries
        final = first + len(entries) - 1
        start = max(last + 1, first)
        stop = final
        if limit is not None and limit > 0:
            stop = min(final, start + limit - 1)
        if start > stop:
            return [], last, 0
        results = entries[start - first:stop - first + 1]
        behind = entries[final - first].created_at - results[-1].created_at
        return results, stop, int(behind * 1000)

    def get_min_sequence_number(self):
        return bounds(self)[0]

    def get_max_sequence_number(self):
        return bounds(self)[1]

    def get_sequence_number_at(self, at_timestamp):
        log = log_of(self)
        entries = log.entries
        if not entries or at_timestamp <= entries[0].created_at:
            return 0
        # The last record created before the moment: arrival times are non-decreasing.
        position = bisect_left(entries, at_timestamp, key=lambda record: record.created_at)
        return log.first + position - 1

    for name, replacement in (("__init__", init), ("append", append),
                              ("put_record", put_record), ("get_records", get_records),
                              ("get_min_sequence_number", get_min_sequence_number),
                              ("get_max_sequence_number", get_max_sequence_number),
                              ("get_sequence_number_at", get_sequence_number_at),
                              ("bounds", bounds)):
        patch(Shard, name, replacement)

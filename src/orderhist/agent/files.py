"""One file being followed: its identity, its first bytes, and its whole lines.

A file is known by (device, inode), as in the real agent, so a rename does not make it a new
file. Inodes are reused after a delete and a truncated file keeps its inode, so the hash of
the first KiB ("head") is kept too: same inode with another head is another file's content.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from orderhist.agent.checkpoint import FileCheckpoint, Ledger

HEAD_BYTES = 1024
READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Identity:
    dev: int
    inode: int

    @classmethod
    def of(cls, stat: os.stat_result) -> Identity:
        return cls(stat.st_dev, stat.st_ino)


def head_digest(fd: int, length: int) -> tuple[int, str]:
    data = os.pread(fd, length, 0)
    return len(data), hashlib.sha1(data).hexdigest()


def file_has_head(path: Path, length: int, digest: str) -> bool:
    """Whether the file at `path` starts with the bytes whose sha1 is `digest`."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        found_length, found = head_digest(fd, length)
    finally:
        os.close(fd)
    return found_length == length and found == digest


class TrackedFile:
    """An open file read line by line from an offset; only lines ending in "\\n" come out."""

    def __init__(self, path: Path, fd: int, identity: Identity, offset: int,
                 skip_lines: int = 0):
        self.path = path
        self.fd = fd
        self.identity = identity
        self.read_pos = offset  # just past the last whole line handed out
        self.pending = bytearray()  # bytes after read_pos still waiting for their "\n"
        self.ledger = Ledger(offset)
        self.skip_lines = skip_lines if offset == 0 else 0
        self.head = b""  # the first HEAD_BYTES as first read: what a copy starts with
        self.matched = True  # the name matches the pattern at the last listing
        self.unmatched_since: float | None = None
        self.last_size = -1
        self.last_growth = time.monotonic()
        self.refresh_head()

    @classmethod
    def open(cls, path: Path, offset: int = 0, skip_lines: int = 0) -> TrackedFile | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None  # gone between the listing and now: the next listing decides
        return cls(path, fd, Identity.of(os.fstat(fd)), offset, skip_lines)

    @property
    def is_open(self) -> bool:
        return self.fd >= 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    @property
    def consumed(self) -> int:
        """How far this file has been read, partial line included."""
        return self.read_pos + len(self.pending)

    @property
    def head_length(self) -> int:
        return len(self.head)

    @property
    def head_sha1(self) -> str:
        return hashlib.sha1(self.head).hexdigest()

    def refresh_head(self) -> None:
        if len(self.head) < HEAD_BYTES and self.is_open:
            self.head = os.pread(self.fd, HEAD_BYTES, 0)

    def head_still_matches(self) -> bool:
        if not self.head:
            return True
        return os.pread(self.fd, len(self.head), 0) == self.head

    def was_truncated(self, size: int) -> bool:
        """Shorter than what was read, or same length but other first bytes (a truncation
        refilled past the old size between two polls, which the real agent misses)."""
        if size < self.consumed:
            return True
        if size != self.last_size and self.head_length and not self.head_still_matches():
            return True
        return False

    def note_size(self, size: int) -> None:
        if size != self.last_size:
            self.last_size = size
            self.last_growth = time.monotonic()
            self.refresh_head()

    def read_lines(self, size: int, limit: int = READ_CHUNK) -> list[tuple[bytes, int, int]]:
        """Whole lines from where reading stopped: (line with its "\\n", start, end)."""
        want = min(size - self.consumed, limit)
        if want <= 0:
            return []
        chunk = os.pread(self.fd, want, self.consumed)
        if not chunk:
            return []
        if b"\n" not in chunk:
            self.pending += chunk
            return []
        data = bytes(self.pending) + chunk if self.pending else chunk
        last = data.rfind(b"\n") + 1
        lines = []
        start = self.read_pos
        position = 0
        while position < last:
            end = data.index(b"\n", position) + 1
            lines.append((data[position:end], start + position, start + end))
            position = end
        self.read_pos = start + last
        self.pending = bytearray(data[last:])
        return lines

    def take_unterminated(self) -> tuple[bytes, int, int] | None:
        """The last line of a file that will not grow again, though it has no "\\n"."""
        if not self.pending:
            return None
        line = bytes(self.pending)
        start = self.read_pos
        self.read_pos += len(line)
        self.pending = bytearray()
        return line, start, self.read_pos

    def rebind(self, path: Path, fd: int, identity: Identity) -> None:
        """Continue this file's reading in a byte-identical copy (copytruncate's copy)."""
        self.close()
        self.path, self.fd, self.identity = path, fd, identity
        self.pending = bytearray()
        self.last_size = -1

    def checkpoint(self) -> FileCheckpoint:
        return FileCheckpoint(path=str(self.path), dev=self.identity.dev,
                              inode=self.identity.inode, offset=self.ledger.acked,
                              head_length=self.head_length, head_sha1=self.head_sha1)

"""A flow's files: find them, follow each through rotation, hand whole lines to the sender.

Unlike the real agent, which follows one file at a time, every file matching the pattern is
followed at once, each in its own order. Rotation:
- rename (logrotate's default): the inode is followed under its new name and read to its end;
  once gone from the pattern and quiet for ROTATED_GRACE, it is let go;
- new timestamped files: just more matching files, read from their first byte;
- copytruncate: the truncated file is read from 0 again, and what was not yet read before the
  truncation is read from the copy (a file in the directory with the same first bytes).
A copy whose name matches the pattern is recognised by its first KiB and not sent twice.
The directory is listed on every poll even while the sender is behind, so a file only has to
exist under a matching name for one poll (25 ms by default) to be followed to its end; a file
created and rotated away faster than that, or two copytruncates before one poll, are missed.
"""
from __future__ import annotations

import fnmatch
import logging
import os
import stat as stat_module
import threading
import time
from pathlib import Path

from orderhist.agent.checkpoint import FileCheckpoint
from orderhist.agent.config import END_OF_FILE, FlowConfig
from orderhist.agent.files import HEAD_BYTES, Identity, TrackedFile, file_has_head
from orderhist.agent.processing import MAX_RECORD_BYTES, DeadLetters, LineProcessor
from orderhist.agent.sender import OutgoingRecord, Sender
from orderhist.agent.stats import FlowStats, utc_now

log = logging.getLogger("orderhist.agent")

# A renamed file may still get a few writes before its writer reopens the new one.
ROTATED_GRACE = 2.0
# A new file that so far equals the start of a followed one may be a copy being written.
COPY_DECISION_WAIT = 1.0
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zip")


class FlowTailer:
    def __init__(self, flow: FlowConfig, sender: Sender, stats: FlowStats,
                 dead_letters: DeadLetters):
        self.flow = flow
        self.sender = sender
        self.stats = stats
        self.dead_letters = dead_letters
        self.processor = LineProcessor(flow)
        self.files: dict[Identity, TrackedFile] = {}
        self.orphans: list[TrackedFile] = []  # truncated with no copy: only tickets left
        self.copies: set[Identity] = set()
        self.undecided: dict[Identity, float] = {}
        self._lock = threading.Lock()  # files/orphans, against checkpoint snapshots
        self._restarted = False
        self._matching_cache: dict[Identity, Path] = {}
        self._turn = 0

    # -------------------------------------------------------------------------- start-up

    def initialize(self, saved: list[FileCheckpoint] | None) -> None:
        """Resume each checkpointed file; new files start by initialPosition (first run) or
        at 0 (a file that appeared while the agent was down must be read whole)."""
        self._restarted = saved is not None
        everything = self._scan(matching_only=False)
        for entry in saved or []:
            self._resume(entry, everything)
        for identity, path in self._scan(matching_only=True).items():
            if identity in self.files or self._is_copy(identity, path):
                continue
            if self._restarted or self.flow.initial_position != END_OF_FILE:
                self._track(path, 0)
            else:
                tracked = self._track(path, 0)
                if tracked:
                    tracked.read_pos = _after_last_newline(tracked.fd, tracked.size())
                    tracked.ledger.acked = tracked.read_pos
                    tracked.skip_lines = 0
        self._refresh_matches(self._scan(matching_only=True))

    def _resume(self, entry: FileCheckpoint, everything: dict[Identity, Path]) -> None:
        identity = Identity(entry.dev, entry.inode)
        path = everything.get(identity)
        if path is not None and identity not in self.files and self._holds(path, entry):
            self._track(path, entry.offset)
            return
        # Truncated (copytruncate) or gone while the agent was down: its unread part, if
        # anywhere, is in a copy with the same first bytes.
        for other, other_path in everything.items():
            if other != identity and other not in self.files and self._holds(other_path, entry):
                if entry.head_length:
                    log.info("%s was rotated while the agent was down; resuming %s at %d",
                             entry.path, other_path, entry.offset)
                    self._track(other_path, entry.offset)
                    return
        if path is None:
            log.info("%s is gone; it was read up to byte %d", entry.path, entry.offset)
        else:
            log.warning("%s was truncated while the agent was down and no copy was found; "
                        "reading it from the start", entry.path)

    @staticmethod
    def _holds(path: Path, entry: FileCheckpoint) -> bool:
        try:
            size = path.stat().st_size
        except OSError:
            return False
        return size >= entry.offset and file_has_head(path, entry.head_length,
                                                      entry.head_sha1)

    # -------------------------------------------------------------------------- the loop

    def run(self, stop: threading.Event) -> None:
        interval = self.flow.poll_ms / 1000
        while not stop.is_set():
            if not self.poll(stop):
                stop.wait(interval)

    def poll(self, stop: threading.Event) -> bool:
        """One pass over the directory and every file; True if any line was read."""
        matching = self._scan(matching_only=True)
        self._refresh_matches(matching)
        for identity, path in matching.items():
            if identity not in self.files and identity not in self.copies:
                if not self._is_copy(identity, path):
                    self._track(path, 0)
        worked = False
        # Each pass starts at the next file, so a file with a large backlog cannot keep the
        # buffer's room to itself.
        followed = list(self.files.values())
        self._turn = (self._turn + 1) % max(1, len(followed))
        for tracked in followed[self._turn:] + followed[:self._turn]:
            if stop.is_set():
                return worked
            worked |= self._read(tracked)
        self._release_finished()
        self.stats.files = len(self.files)
        self.stats.behind_bytes = sum(max(0, t.last_size - t.consumed)
                                      for t in self.files.values())
        return worked

    def _read(self, tracked: TrackedFile) -> bool:
        size = tracked.size()
        if tracked.was_truncated(size):
            replacement = self._on_truncation(tracked)
            if replacement is None:
                return True
            tracked = replacement
            size = tracked.size()
        tracked.note_size(size)
        if not self.sender.has_room():
            return False
        lines = tracked.read_lines(size)
        for line, start, end in lines:
            self._ship(tracked, line, start, end)
        return bool(lines)

    def _ship(self, tracked: TrackedFile, line: bytes, start: int, end: int) -> None:
        self.stats.lines_read += 1
        if tracked.skip_lines > 0:
            tracked.skip_lines -= 1
            tracked.ledger.skip(end)
            return
        if not line.strip(b"\r\n"):
            self.stats.blank_lines += 1
            tracked.ledger.skip(end)
            return
        converted = self.processor.convert(line)
        if not converted.converted:
            self.stats.conversion_fallbacks += 1
        if converted.size > MAX_RECORD_BYTES:
            reason = (f"record of {converted.size} bytes (data and partition key) is over "
                      f"Kinesis' {MAX_RECORD_BYTES}-byte limit")
            self.dead_letters.write(stream=self.flow.stream, source=str(tracked.path),
                                    offset=start, line=line, size=converted.size,
                                    reason=reason, at=utc_now())
            self.stats.dead_letters += 1
            self.stats.note_error(f"{tracked.path} byte {start}: {reason}; kept in "
                                  f"{self.dead_letters.path}")
            log.warning("%s byte %d: %s; written to %s", tracked.path, start, reason,
                        self.dead_letters.path)
            tracked.ledger.skip(end)
            return
        record = OutgoingRecord(converted.data, converted.partition_key, converted.size,
                                tracked.ledger.issue(end))
        self.sender.submit(record)

    # -------------------------------------------------------------------------- rotation

    def _on_truncation(self, tracked: TrackedFile) -> TrackedFile | None:
        """Finish the old content from its copy, start the truncated file again at 0."""
        identity, original = tracked.identity, tracked.path
        copy = self._find_copy(tracked)
        with self._lock:
            del self.files[identity]
            if copy is not None and os.fstat(copy[2]).st_size >= tracked.read_pos:
                copy_path, copy_identity, fd = copy
                tracked.rebind(copy_path, fd, copy_identity)
                tracked.matched = copy_identity in self._matching_cache
                self.copies.discard(copy_identity)
                self.files[copy_identity] = tracked
                log.info("%s was truncated; reading the rest of its old content from %s",
                         original, copy_path)
            else:
                tracked.close()
                self.orphans.append(tracked)
                if copy is not None:
                    # Copied before the agent read past it: the copy holds nothing unread.
                    os.close(copy[2])
                    self.copies.add(copy[1])
                    log.info("%s was truncated after it was read to its copy's end", original)
                elif not tracked.matched:
                    log.info("%s was emptied after it was read to byte %d", original,
                             tracked.read_pos)
                else:
                    log.warning("%s was truncated and no copy of it was found; lines written "
                                "after byte %d and before the truncation are lost",
                                original, tracked.read_pos)
        if identity not in self._matching_cache:
            return None  # a rotated-away file was emptied: nothing new to follow there
        fresh = self._track(self._matching_cache[identity], 0)
        return fresh if fresh is not None and fresh.identity == identity else None

    def _find_copy(self, tracked: TrackedFile) -> tuple[Path, Identity, int] | None:
        """The copy of a truncated file, opened: (path, identity, fd)."""
        if not tracked.head_length:
            return None
        for identity, path in self._scan(matching_only=False).items():
            if identity == tracked.identity or identity in self.files:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            if (Identity.of(os.fstat(fd)) == identity
                    and os.pread(fd, tracked.head_length, 0) == tracked.head):
                return path, identity, fd
            os.close(fd)
        return None

    def _is_copy(self, identity: Identity, path: Path) -> bool:
        """A new matching file that repeats a followed file's first KiB is that file's copy."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return True  # gone already; nothing to decide
        try:
            head = os.pread(fd, HEAD_BYTES, 0)
        finally:
            os.close(fd)
        if not head:
            return True  # empty: nothing to read yet, decide when it has content
        for tracked in self.files.values():
            # The head kept from before: the followed file may be truncated already.
            if not tracked.head.startswith(head):
                continue
            if len(head) == HEAD_BYTES:
                self.copies.add(identity)
                self.undecided.pop(identity, None)
                log.info("%s is a copy of %s; not sending it again", path, tracked.path)
                return True
            first_seen = self.undecided.setdefault(identity, time.monotonic())
            if time.monotonic() - first_seen < COPY_DECISION_WAIT:
                return True  # maybe a copy still being written; look again next poll
        self.undecided.pop(identity, None)
        return False

    def _refresh_matches(self, matching: dict[Identity, Path]) -> None:
        self._matching_cache = matching
        now = time.monotonic()
        renamed_away = []
        for identity, tracked in self.files.items():
            if identity in matching:
                tracked.path = matching[identity]
                tracked.matched, tracked.unmatched_since = True, None
            else:
                renamed_away.append(tracked)
                if tracked.matched or tracked.unmatched_since is None:
                    tracked.matched, tracked.unmatched_since = False, now
        if renamed_away:
            # Keep their names current (for the checkpoint and the logs); a deleted file
            # keeps its last name.
            everything = self._scan(matching_only=False)
            for tracked in renamed_away:
                tracked.path = everything.get(tracked.identity, tracked.path)
        self.copies &= set(matching)
        for identity in [i for i in self.undecided if i not in matching]:
            del self.undecided[identity]

    def _release_finished(self) -> None:
        """Let go of files rotated out of the pattern once read, quiet and acknowledged."""
        now = time.monotonic()
        for identity, tracked in list(self.files.items()):
            if tracked.matched or tracked.unmatched_since is None:
                continue
            quiet_since = max(tracked.unmatched_since, tracked.last_growth)
            if now - quiet_since < ROTATED_GRACE or tracked.size() > tracked.consumed:
                continue
            last = tracked.take_unterminated()
            if last is not None:
                self._ship(tracked, *last)
            if tracked.ledger.outstanding:
                continue
            with self._lock:
                tracked.close()
                del self.files[identity]
            log.info("finished %s (rotated away, read to its end)", tracked.path)
        with self._lock:
            self.orphans = [o for o in self.orphans if o.ledger.outstanding]

    # -------------------------------------------------------------------------- helpers

    def _scan(self, matching_only: bool) -> dict[Identity, Path]:
        found: dict[Identity, Path] = {}
        try:
            entries = list(os.scandir(self.flow.directory))
        except OSError as error:
            self.stats.note_error(f"cannot list {self.flow.directory}: {error.strerror}")
            return found
        for entry in entries:
            name = entry.name
            if matching_only and (not fnmatch.fnmatchcase(name, self.flow.name_glob)
                                  or name.endswith(COMPRESSED_SUFFIXES)):
                continue
            try:
                stat = os.stat(entry.path)  # follows a symlink to the log, as tail -F does
            except OSError:
                continue
            if stat_module.S_ISREG(stat.st_mode):
                found.setdefault(Identity.of(stat), Path(entry.path))
        return found

    def _track(self, path: Path, offset: int) -> TrackedFile | None:
        tracked = TrackedFile.open(path, offset, self.flow.skip_header_lines)
        if tracked is None:
            return None
        with self._lock:
            previous = self.files.get(tracked.identity)
            if previous is not None:
                tracked.close()
                return previous
            self.files[tracked.identity] = tracked
        return tracked

    def checkpoints(self) -> list[FileCheckpoint]:
        with self._lock:
            return [tracked.checkpoint() for tracked in self.files.values()]

    def close(self) -> None:
        with self._lock:
            for tracked in self.files.values():
                tracked.close()


def _after_last_newline(fd: int, size: int) -> int:
    """END_OF_FILE: start after the last whole line, so a half-written one is not cut."""
    position = size
    while position > 0:
        start = max(0, position - 65536)
        chunk = os.pread(fd, position - start, start)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        position = start
    return 0

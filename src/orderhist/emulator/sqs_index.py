"""The index a standard queue keeps beside moto's own message objects (see fast_sqs, which
installs it into moto's SQS model): the messages in moto's list order, receipt handle ->
message, a heap of available messages by that order, and heaps of the moments messages become
available, visible and undelayed, with counters kept in step."""
from __future__ import annotations

import heapq

ATTRIBUTE = "_orderhist_sqs"  # the QueueIndex, in a standard queue's __dict__
PLAIN = "_orderhist_plain"  # moto's own list, while a queue has no index (FIFO, or not yet used)


class _Slot:
    __slots__ = ("seq", "message", "ver", "ready", "hidden", "delayed")

    def __init__(self, seq, message):
        self.seq, self.message, self.ver = seq, message, 0
        self.ready = self.hidden = self.delayed = False


class QueueIndex:
    """A standard queue's messages, indexed. Heap entries carry the slot's version when pushed;
    an entry whose version is no longer the slot's is stale and skipped when met."""

    def __init__(self, messages, now: float):
        self.slots: dict[int, _Slot] = {}  # seq -> slot, in moto's list order
        self.of_message: dict[int, _Slot] = {}  # id(message) -> slot
        self.by_handle: dict[str, _Slot] = {}  # every receipt handle a message ever had
        self.ready: list = []  # (seq, ver): available now, oldest first
        self.waiting: list = []  # (moment it may become available, seq, ver)
        self.hidden: list = []  # (visible_at, seq, ver) of not visible ones
        self.delays: list = []  # (delayed_until, seq, ver) of delayed ones
        self.n_ready = self.n_hidden = self.n_delayed = 0
        self.next_seq = 0
        self.touched = 0  # heap entries handled: lets a test bound a call's work
        for message in messages:
            self.add(message, now)

    def messages(self) -> list:
        return [slot.message for slot in self.slots.values()]

    def add(self, message, now: float) -> None:
        slot = _Slot(self.next_seq, message)
        self.next_seq += 1
        self.slots[slot.seq] = slot
        self.of_message[id(message)] = slot
        for handle in message.all_receipt_handles:
            if type(handle) is str:
                self.by_handle[handle] = slot
        self.place(slot, now)

    def remove(self, slot: _Slot) -> None:
        self.unplace(slot)
        del self.slots[slot.seq]
        del self.of_message[id(slot.message)]
        for handle in slot.message.all_receipt_handles:
            if type(handle) is str and self.by_handle.get(handle) is slot:
                del self.by_handle[handle]

    def place(self, slot: _Slot, now: float) -> None:
        """Counts and queues the slot by its message's state at `now`, moto's tests exactly:
        visible is now > visible_at, delayed is now < delayed_until."""
        message, key = slot.message, (slot.seq, slot.ver)
        self.touched += 1
        if message.visible_at >= now:
            heapq.heappush(self.hidden, (message.visible_at, *key))
            slot.hidden = True
            self.n_hidden += 1
        if message.delayed_until > now:
            heapq.heappush(self.delays, (message.delayed_until, *key))
            slot.delayed = True
            self.n_delayed += 1
        if now > message.visible_at and now >= message.delayed_until:
            heapq.heappush(self.ready, key)
            slot.ready = True
            self.n_ready += 1
        else:
            heapq.heappush(self.waiting, (max(message.visible_at, message.delayed_until), *key))

    def unplace(self, slot: _Slot) -> None:
        """Uncounts the slot; its heap entries go stale."""
        self.n_ready -= slot.ready
        self.n_hidden -= slot.hidden
        self.n_delayed -= slot.delayed
        slot.ready = slot.hidden = slot.delayed = False
        slot.ver += 1

    def live(self, seq: int, ver: int) -> _Slot | None:
        slot = self.slots.get(seq)
        return slot if slot is not None and slot.ver == ver else None

    def refresh(self, now: float) -> None:
        """Brings the counts and the ready heap to `now`: pops what ran out since last time."""
        hidden, delays, waiting = self.hidden, self.delays, self.waiting
        while hidden and hidden[0][0] < now:
            _, seq, ver = heapq.heappop(hidden)
            self.touched += 1
            slot = self.live(seq, ver)
            if slot is not None and slot.hidden:
                slot.hidden = False
                self.n_hidden -= 1
        while delays and delays[0][0] <= now:
            _, seq, ver = heapq.heappop(delays)
            self.touched += 1
            slot = self.live(seq, ver)
            if slot is not None and slot.delayed:
                slot.delayed = False
                self.n_delayed -= 1
        held = []
        while waiting and waiting[0][0] <= now:
            entry = heapq.heappop(waiting)
            self.touched += 1
            slot = self.live(entry[1], entry[2])
            if slot is None:
                continue
            message = slot.message
            if now > message.visible_at and now >= message.delayed_until:
                heapq.heappush(self.ready, entry[1:])
                slot.ready = True
                self.n_ready += 1
            else:  # visible_at == now: visible only after this very instant
                held.append(entry)
        for entry in held:
            heapq.heappush(waiting, entry)
        self._compact()

    def take(self) -> _Slot | None:
        """The oldest available message, out of the ready heap and uncounted."""
        while self.ready:
            seq, ver = heapq.heappop(self.ready)
            self.touched += 1
            slot = self.live(seq, ver)
            if slot is not None and slot.ready:
                self.unplace(slot)
                return slot
        return None

    def _compact(self) -> None:
        # Deleted and re-timed messages leave stale entries; drop them once they are half of
        # a heap, so memory follows the queue and the cost stays amortised O(1) per change.
        live = len(self.slots)
        for name, position in (("ready", 0), ("waiting", 1), ("hidden", 1), ("delays", 1)):
            heap = getattr(self, name)
            if len(heap) > 2 * live + 1024:
                kept = [e for e in heap if self.live(e[position], e[position + 1]) is not None]
                heapq.heapify(kept)
                self.touched += len(heap)
                setattr(self, name, kept)


def index_of(queue) -> QueueIndex | None:
    """The queue's index, built on first use; None for a FIFO queue (moto's own code)."""
    state = queue.__dict__
    if getattr(queue, "fifo_queue", False):
        _dissolve(queue)
        return None
    known = state.get(ATTRIBUTE)
    if known is None:
        from moto.sqs import models

        known = state[ATTRIBUTE] = QueueIndex(state.pop(PLAIN, []), models.unix_time_millis())
    return known


def _dissolve(queue) -> list:
    """Back to moto's plain list (a queue turned FIFO, or about to be changed by moto's own
    code in place); the index is rebuilt from it on next use."""
    state = queue.__dict__
    known = state.pop(ATTRIBUTE, None)
    if known is not None:
        state[PLAIN] = known.messages()
    return state.setdefault(PLAIN, [])

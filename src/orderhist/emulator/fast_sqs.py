"""SQS's hot calls at a cost that does not grow with the queue: replacements of the O(queue)
parts of moto 5.2's SQS model (moto/sqs/models.py), installed only in the emulator process.

In stock moto every SendMessage reads `queue.attributes`, whose three message counts each walk
every message (reading the clock per message); every received message re-reads the attributes
three times for its retention check (9 walks); ReceiveMessage lists every visible message
first; DeleteMessage and ChangeMessageVisibility look a receipt handle up by walking the queue
and deletion rebuilds the list. At 100,000 messages that is ~1.4 s per message sent and ~44 s
per ReceiveMessage(10), in process.

Here a standard queue keeps a `QueueIndex` (sqs_index) beside moto's own message objects: the
messages in moto's list order (an insertion-ordered dict), receipt handle -> message, a heap
of available messages by that order (what ReceiveMessage takes first), and heaps of the
moments messages become available, visible and undelayed, with counters kept in step: every
call costs
O(log n) per message it returns or changes, plus the messages whose timeouts ran out since
the last call. Results, including moto's quirks (ChangeMessageVisibility on a message not in
flight, a message past retention ending a receive after being marked received, redrive to the
dead-letter queue only of the messages scanned), are moto's: tests/test_emulator_sqs.py
replays random calls on this and on stock moto. FIFO queues are left to moto's own code,
explicitly: their index is dissolved back into moto's plain list. The clock is read through
moto.sqs.models so a clock patched there is seen here too; like moto's, it is the wall clock
(a clock set backwards would not un-expire a timeout here, where moto re-reads it per message).
"""
from __future__ import annotations

from copy import deepcopy

from orderhist.emulator.patches import _locked, _untracked_new
from orderhist.emulator.sqs_index import ATTRIBUTE, PLAIN, QueueIndex, _dissolve, index_of

MAX_VISIBILITY_S = 43200


def install(lock, patch) -> None:
    from moto.sqs import models
    from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid
    from moto.sqs.models import Message, Queue, SQSBackend

    def get_messages(self):
        known = self.__dict__.get(ATTRIBUTE)
        if known is None or getattr(self, "fifo_queue", False):
            return _dissolve(self)
        # A copy: moto code that changes the list assigns it back, through the setter.
        return known.messages()

    def set_messages(self, value):
        self.__dict__.pop(ATTRIBUTE, None)
        self.__dict__[PLAIN] = value

    patch(Queue, "_messages", property(get_messages, set_messages))

    def counted(stock, field: str):
        def count(self):
            with lock:
                known = index_of(self)
                if known is None:
                    return stock.fget(self)
                known.refresh(models.unix_time_millis())
                return getattr(known, field)
        return property(count)

    for name, field in (("approximate_number_of_messages", "n_ready"),
                        ("approximate_number_of_messages_not_visible", "n_hidden"),
                        ("approximate_number_of_messages_delayed", "n_delayed")):
        patch(Queue, name, counted(getattr(Queue, name), field))

    stock_add, stock_wait = Queue.add_message, Queue.wait_for_messages
    stock_queue_delete = Queue.delete_message

    def add_message(self, message):
        with lock:
            known = index_of(self)
            if known is None:
                return stock_add(self, message)
            known.add(message, models.unix_time_millis())
        # Outside our lock: a long poll holds this condition while it checks for messages.
        with self._messages_lock:
            self._messages_lock.notify_all()
        if self.lambda_event_source_mappings:
            _invoke_mappings(self)

    def wait_for_messages(self, timeout):
        known = self.__dict__.get(ATTRIBUTE)
        if known is None:
            return stock_wait(self, timeout)
        # Read without our lock (see add_message): a hint to wake up; the receive re-checks.
        with self._messages_lock:
            self._messages_lock.wait_for(lambda: _maybe_available(known), timeout=timeout)

    def queue_delete_message(self, receipt_handle):
        with lock:
            known = index_of(self) if type(receipt_handle) is str else None
            if known is None:
                return stock_queue_delete(self, receipt_handle)
            if receipt_handle in self.deleted_messages:
                return None  # moto: deleting again succeeds
            slot = known.by_handle.get(receipt_handle)
            if slot is None:
                raise ReceiptHandleIsInvalid()
            self.pending_messages.discard(slot.message)
            self.deleted_messages.update(slot.message.all_receipt_handles)
            known.remove(slot)
            return None

    patch(Queue, "add_message", add_message)
    patch(Queue, "wait_for_messages", wait_for_messages)
    patch(Queue, "delete_message", queue_delete_message)

    stock_receive = SQSBackend.receive_message
    stock_change = SQSBackend.change_message_visibility

    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None):
        queue = self.get_queue(queue_name)
        if getattr(queue, "fifo_queue", False):  # moto's own, unlocked as in stock moto
            return stock_receive(self, queue_name, count, wait_seconds_timeout,
                                 visibility_timeout, message_attribute_names)
        names = message_attribute_names if message_attribute_names is not None else []
        result: list = []
        previous = 0
        polling_end = models.unix_time() + wait_seconds_timeout
        # moto's loop: one pass over the available messages, then (long polling) wait a
        # second at a time for more, until something is returned or the wait is over.
        while True:
            if result or (wait_seconds_timeout and models.unix_time() > polling_end):
                break
            with lock:
                _receive_pass(queue, count, visibility_timeout, names, result)
            if previous == len(result):
                if wait_seconds_timeout == 0:
                    break
                queue.wait_for_messages(1)
                continue
            previous = len(result)
        return result

    def change_message_visibility(self, queue_name, receipt_handle, visibility_timeout):
        with lock:
            queue = self.get_queue(queue_name)
            known = index_of(queue) if type(receipt_handle) is str else None
            if known is None:
                _dissolve(queue)  # moto changes the message in place: re-index after
                return stock_change(self, queue_name, receipt_handle, visibility_timeout)
            slot = known.by_handle.get(receipt_handle)
            if slot is None:
                raise ReceiptHandleIsInvalid
            message = slot.message
            given = models.unix_time_millis() + int(visibility_timeout) * 1000
            if given - message.sent_timestamp > MAX_VISIBILITY_S * 1000:
                raise InvalidParameterValue(
                    f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. "
                    f"Reason: Total VisibilityTimeout for the message is beyond the limit "
                    f"[{MAX_VISIBILITY_S} seconds]")
            message.change_visibility(visibility_timeout)
            known.unplace(slot)
            known.place(slot, models.unix_time_millis())
            if message.visible and message in queue.pending_messages:
                queue.pending_messages.remove(message)
            return None

    patch(SQSBackend, "receive_message", receive_message)
    patch(SQSBackend, "change_message_visibility", change_message_visibility)

    def _receive_pass(queue, count, visibility_timeout, names, result) -> None:
        known = index_of(queue)
        if known is None:  # turned FIFO (SetQueueAttributes) while this call waited
            return
        now = models.unix_time_millis()
        known.refresh(now)
        policy = queue.redrive_policy if queue.dead_letter_queue is not None else None
        pending = queue.pending_messages
        taken, to_dlq = [], []
        try:
            while True:
                slot = known.take()
                if slot is None:
                    break
                taken.append(slot)
                message = slot.message
                pending.discard(message)
                if policy and message.approximate_receive_count >= policy["maxReceiveCount"]:
                    to_dlq.append(taken.pop())
                    continue
                pending.add(message)
                message.mark_received(visibility_timeout=visibility_timeout)
                known.by_handle[message.receipt_handle] = slot
                copy = deepcopy(message)
                models._filter_message_attributes(copy, names)
                # moto's retention check: an expired message, already marked received above,
                # ends the pass without being returned.
                if not _retained(queue, message):
                    break
                result.append(copy)
                if len(result) >= count:
                    break
        finally:
            # Placed after the pass, as moto walks a list made before it: a message received
            # with VisibilityTimeout 0 is not received twice in one call.
            for slot in taken:
                known.place(slot, now)
            for slot in to_dlq:
                known.remove(slot)
                queue.dead_letter_queue.add_message(slot.message)

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        return _retained(self.get_queue(queue_name), message)

    patch(SQSBackend, "is_message_valid_based_on_retention_period",
          is_message_valid_based_on_retention_period)

    # Whatever walks or changes a queue's messages must not interleave with another request.
    for name in ("send_message", "send_message_batch", "delete_message", "delete_message_batch",
                 "change_message_visibility_batch", "get_queue_attributes",
                 "set_queue_attributes", "purge_queue", "create_queue", "delete_queue"):
        patch(SQSBackend, name, _locked(getattr(SQSBackend, name), lock))
    # moto keeps every model object it made, and ReceiveMessage deep-copies each message it
    # returns: every copy would live on. Messages are not tracked here.
    patch(Message, "__new__", staticmethod(_untracked_new))


def _retained(queue, message) -> bool:
    """moto's retention check, without reading every attribute (and so every message count)
    three times the way its get_queue_attributes does."""
    from moto.sqs import models

    retain_until = queue.message_retention_period + message.sent_timestamp / 1000
    return not retain_until <= models.unix_time()


def _maybe_available(known: QueueIndex) -> bool:
    from moto.sqs import models

    try:
        return known.n_ready > 0 or known.waiting[0][0] < models.unix_time_millis()
    except IndexError:
        return False


def _invoke_mappings(queue) -> None:
    """moto's Queue.add_message tail: a Lambda mapping on the queue receives at once."""
    from moto.awslambda.utils import get_backend
    from moto.sqs import models

    for arn, esm in queue.lambda_event_source_mappings.items():
        if not esm.enabled:
            continue
        backend = models.sqs_backends[queue.account_id][queue.region]
        messages = backend.receive_message(queue.name, esm.batch_size,
                                           queue.receive_message_wait_time_seconds,
                                           queue.visibility_timeout)
        if get_backend(queue.account_id, queue.region).send_sqs_batch(arn, messages,
                                                                      queue.queue_arn):
            # moto types receipt_handle optional; a message just received always has one.
            for message in messages:
                backend.delete_message(queue.name, message.receipt_handle)  # type: ignore[arg-type]
        else:
            for message in messages:
                backend.change_message_visibility(
                    queue.name, message.receipt_handle,  # type: ignore[arg-type]  # as above
                    visibility_timeout=0)

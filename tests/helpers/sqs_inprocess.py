"""In-process SQS drivers for tests/test_emulator_sqs.py, each run in a fresh interpreter
(fast_sqs patches moto's classes for the whole process): moto's clock is replaced by a fake
one the driver steps, so timeouts can be hit to the millisecond on stock and patched moto.

`replay fast|stock SEED`: random hot calls; every result and the final state, as JSON.
`scale N`: N messages through the patched model; counts against a walk of moto's list."""
from __future__ import annotations

import random
import threading

ACCOUNT = "123456789012"
REGION = "us-east-1"
START_MS = 1_700_000_000_000.0


class Clock:
    def __init__(self):
        self.ms = START_MS

    def install(self) -> None:
        from moto.sqs import models

        models.unix_time_millis = lambda dt=None: self.ms
        models.unix_time = lambda dt=None: self.ms / 1000.0


def _backend(fast: bool, seed: int, clock: Clock):
    from moto.moto_api._internal import mock_random
    from moto.sqs import models

    clock.install()
    if fast:
        from orderhist.emulator import fast_sqs, registry

        # What the emulator's registry does, for this one installer (declared changes only).
        collect = registry.Collector(registry.FAST)
        fast_sqs.install(threading.RLock(), collect)
        for owner, attribute, replacement in collect.planned:
            setattr(owner, attribute, replacement)
    mock_random.seed(seed)
    return models.sqs_backends[ACCOUNT][REGION]


def _message(m) -> list:
    return [m.id, m.body, m.receipt_handle, m.approximate_receive_count,
            m.approximate_first_receive_timestamp, m.sent_timestamp, m.message_attributes]


def _state(queue) -> list:
    return [[m.id, m.visible_at, m.delayed_until, m.approximate_receive_count,
             m.all_receipt_handles] for m in queue._messages]


def replay(fast: bool, seed: int, steps: int = 700) -> dict:
    clock = Clock()
    backend = _backend(fast, seed, clock)
    rng = random.Random(seed)
    dlq = backend.create_queue("dlq")
    backend.create_queue("main", RedrivePolicy={"deadLetterTargetArn": dlq.queue_arn,
                                                "maxReceiveCount": 2})
    backend.create_queue("other")
    names = ["main", "main", "other", "dlq"]
    handles: list[str] = []
    out: list = []

    def handle() -> str:
        return rng.choice(handles) if handles and rng.random() < 0.92 else "nope"

    def attempt(call, *args, **kwargs):
        try:
            return ["ok", call(*args, **kwargs)]
        except Exception as error:
            return ["error", type(error).__name__, str(error)]

    for n in range(steps):
        name, roll = rng.choice(names), rng.random()
        if roll < 0.2:
            entries = {str(i): {"Id": f"e{i}", "MessageBody": f"{n}-{i}",
                                "MessageAttributes": {},
                                "DelaySeconds": rng.choice([None, None, 0, 1, 3])}
                       for i in range(rng.randrange(1, 11))}
            got = attempt(backend.send_message_batch, name, entries)
            if got[0] == "ok":
                got = ["ok", [m.id for m in got[1][0]], got[1][1]]
        elif roll < 0.27:
            got = attempt(backend.send_message, name, f"single {n}",
                          delay_seconds=rng.choice([None, 0, 2]))
            got = got if got[0] != "ok" else ["ok", got[1].id]
        elif roll < 0.5:
            got = attempt(backend.receive_message, name, rng.randrange(1, 11), 0,
                          rng.choice([0, 0, 1, 2, 30]), rng.choice([None, ["All"]]))
            if got[0] == "ok":
                handles += [m.receipt_handle for m in got[1]]
                got = ["ok", [_message(m) for m in got[1]]]
        elif roll < 0.58:
            got = attempt(backend.change_message_visibility, name, handle(),
                          rng.choice([0, 1, 3, 43200]))
        elif roll < 0.63:
            got = attempt(backend.change_message_visibility_batch, name, [
                {"Id": f"c{i}", "ReceiptHandle": handle(),
                 "VisibilityTimeout": rng.choice([0, 2, 50000])} for i in range(3)])
        elif roll < 0.7:
            got = attempt(backend.delete_message, name, handle())
        elif roll < 0.76:
            got = attempt(backend.delete_message_batch, name, [
                {"Id": f"d{i}", "ReceiptHandle": handle()} for i in range(rng.randrange(1, 5))])
        elif roll < 0.85:
            got = attempt(backend.get_queue_attributes, name, rng.choice(
                [["All"], ["ApproximateNumberOfMessages"],
                 ["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]]))
        elif roll < 0.86:
            got = attempt(backend.purge_queue, name)
        elif roll < 0.87:
            got = attempt(backend.set_queue_attributes, "other",
                          {"MessageRetentionPeriod": rng.choice([2, 345600])})
            got = got[:1] if got[0] == "ok" else got  # (the Queue object)
        else:  # time passes: a little, a lot, or to exactly a message's moment
            moments = [m.visible_at for m in backend.get_queue(name)._messages if m.visible_at]
            moments += [m.delayed_until for m in backend.get_queue(name)._messages
                        if m.delayed_until]
            later = [t for t in moments if t >= clock.ms]
            if later and rng.random() < 0.5:
                clock.ms = rng.choice(later) + rng.choice([0, 0, 0.001, 1])
            else:
                clock.ms += rng.choice([0, 0.5, 1, 500, 1000, 2000, 5000])
            got = ["clock", clock.ms]
        out.append([name, got])
    final = {name: _state(backend.get_queue(name)) for name in ("main", "other", "dlq")}
    return {"steps": out, "final": final}


def scale(total: int) -> dict:
    from moto.sqs.models import Queue

    # moto's own counts, walking its list: taken before the patches replace them.
    walks = {"visible": Queue.approximate_number_of_messages.fget,
             "hidden": Queue.approximate_number_of_messages_not_visible.fget,
             "delayed": Queue.approximate_number_of_messages_delayed.fget}
    clock = Clock()
    backend = _backend(True, 1, clock)
    from orderhist.emulator import fast_sqs

    queue = backend.create_queue("big")
    rng = random.Random(5)
    report = {"mismatches": [], "checks": 0, "sent": 0, "received": 0, "operations": 0}

    def check() -> None:
        report["checks"] += 1
        counted = {"visible": queue.approximate_number_of_messages,
                   "hidden": queue.approximate_number_of_messages_not_visible,
                   "delayed": queue.approximate_number_of_messages_delayed}
        walked = {key: walk(queue) for key, walk in walks.items()}
        if counted != walked:
            report["mismatches"].append([clock.ms, counted, walked])

    for n in range(0, total, 10):
        entries = {str(i): {"Id": f"e{i}", "MessageBody": f"poison {n + i}",
                            "MessageAttributes": {},
                            "DelaySeconds": 2 if rng.random() < 0.05 else None}
                   for i in range(10)}
        report["sent"] += len(backend.send_message_batch("big", entries)[0])
        if n % 20_000 == 0:
            check()
    report["operations"] += report["sent"]
    check()
    calls = 0
    while True:
        clock.ms += rng.choice([0, 10, 100, 1000, 3000])
        got = backend.receive_message("big", 10, 0, rng.choice([0, 1, 5, 30]))
        calls += 1
        report["received"] += len(got)
        report["operations"] += len(got)
        if not got:
            if not queue.approximate_number_of_messages_not_visible and not \
                    queue.approximate_number_of_messages_delayed:
                break
            clock.ms += 30_000
            continue
        doomed = [m for m in got if rng.random() < 0.7]
        if doomed:
            backend.delete_message_batch("big", [{"Id": f"d{i}", "ReceiptHandle": m.receipt_handle}
                                                 for i, m in enumerate(doomed)])
            report["operations"] += len(doomed)
        kept = [m for m in got if m not in doomed][:3]
        if kept:
            backend.change_message_visibility_batch("big", [
                {"Id": f"c{i}", "ReceiptHandle": m.receipt_handle,
                 "VisibilityTimeout": rng.choice([0, 2, 10])} for i, m in enumerate(kept)])
            report["operations"] += len(kept)
        if calls % 1000 == 0:
            check()
        backend.get_queue_attributes("big", ["All"])
    check()
    report["touched"] = queue.__dict__[fast_sqs.ATTRIBUTE].touched
    report["final"] = {"visible": queue.approximate_number_of_messages,
                       "hidden": queue.approximate_number_of_messages_not_visible,
                       "delayed": queue.approximate_number_of_messages_delayed,
                       "stored": len(queue._messages)}
    return report


def main(argv: list[str]) -> dict:
    if argv[0] == "replay":
        return replay(argv[1] == "fast", int(argv[2]))
    return scale(int(argv[1]))

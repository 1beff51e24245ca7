"""The function's log as Lambda writes it: each invocation framed by START, END and REPORT
(duration, billed duration, memory size, max memory used; init duration on the first), the
handler's prints and tracebacks between, a timeout's and a crash's own lines after the
container's last words; and `orderhist logs`' reading of stamps."""
from __future__ import annotations

import re

from helpers.runtime import CONTAINER_PROBE as PROBE
from orderhist import aws
from orderhist.logview import FileTail, parse_since, split_stamp
from orderhist.runtime.worker import FunctionSpec, Worker, container_environment

REPORT = re.compile(r"REPORT RequestId: (\S+)\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                    r"Memory Size: 128 MB\tMax Memory Used: (\d+|-) MB")


def logged_worker(tmp_path, timeout=0.5) -> tuple[Worker, object]:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "app.py").write_text(PROBE)
    spec = FunctionSpec(arn="arn:aws:lambda:us-east-1:1:function:p", name="p",
                        handler="app.handler", runtime="python3.12", role="r",
                        timeout_s=timeout, memory_mb=128, code_sha256="x",
                        code_dir=str(code_dir), environment=())
    env = container_environment(spec, aws.Target(aws.LOCAL, "us-east-1", "http://127.0.0.1:9"))
    log = tmp_path / "logs" / "p.log"
    return Worker(spec, env, log), log


def messages(log) -> list[str]:
    lines = log.read_text().splitlines()
    for line in lines:
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line), line
    return [line.split(" ", 1)[1] for line in lines]


def test_each_invocation_is_framed_as_lambda_frames_it(tmp_path):
    worker, log = logged_worker(tmp_path)
    try:
        assert worker.invoke({}, "req-1").ok
        assert not worker.invoke({"do": "raise"}, "req-2").ok
    finally:
        worker.close()
    said = messages(log)
    assert said[0] == "init"  # the init phase's prints come first, as on Lambda
    said = said[1:]
    first = said[:said.index("END RequestId: req-1") + 2]
    assert first[0] == "START RequestId: req-1 Version: $LATEST"
    assert "noise on stdout" in first
    assert REPORT.match(first[-1]) and "Init Duration: " in first[-1]
    assert int(REPORT.match(first[-1])[2]) > 0
    second = said[len(first):]
    assert second[0] == "START RequestId: req-2 Version: $LATEST"
    assert "[ERROR] ValueError: bad record" in second
    assert any(line.startswith("Traceback") for line in second)
    assert second[-2] == "END RequestId: req-2" and REPORT.match(second[-1])
    assert "Init Duration" not in second[-1]


def test_a_timeout_and_a_crash_end_with_lambdas_own_lines(tmp_path):
    worker, log = logged_worker(tmp_path)
    try:
        assert worker.invoke({"do": "sleep"}, "slow").error_type == "Sandbox.Timedout"
        assert worker.invoke({"do": "exit"}, "dead").error_type == "Runtime.ExitError"
    finally:
        worker.close()
    said = messages(log)
    slow = said[said.index("START RequestId: slow Version: $LATEST"):]
    assert "slow Task timed out after 0.50 seconds" in slow
    assert "END RequestId: slow" in slow
    assert any(line.startswith("REPORT RequestId: slow") and line.endswith("Status: timeout")
               for line in slow)
    dead = said[said.index("START RequestId: dead Version: $LATEST"):]
    assert any("Runtime exited with error" in line for line in dead)
    assert dead[-1].startswith("REPORT RequestId: dead") and "Runtime.ExitError" in dead[-1]


def test_stamps_and_since():
    assert split_stamp("2026-11-30T02:50:02.819Z START x")[1] == "START x"
    assert split_stamp("2026-11-30 02:48:46,696 INFO y")[1] == "INFO y"
    at, text = split_stamp('127.0.0.1 - - [30/Nov/2026 02:52:03] "POST / HTTP/1.1" 200 -')
    assert at is not None and text.startswith("127.0.0.1")
    assert split_stamp("no stamp") == (None, "no stamp")
    assert parse_since("10m") < parse_since("1m")
    assert parse_since("2026-11-30T00:00:00Z") == split_stamp("2026-11-30T00:00:00.000Z x")[0]


def test_a_tail_reads_whole_lines_and_starts_over_after_truncation(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("2026-11-30T00:00:00.000Z one\ncontinued\n2026-11-30T00:00:01.000Z tw")
    tail = FileTail(path, "agent")
    first = tail.read()
    assert [line.text for line in first] == ["one", "continued"]
    assert first[0].at == first[1].at  # an unstamped line takes the stamp before it
    with open(path, "a") as handle:
        handle.write("o\n")
    assert [line.text for line in tail.read()] == ["two"]
    path.write_text("2026-11-30T00:00:02.000Z three\n")
    assert [line.text for line in tail.read()] == ["three"]


def test_an_unwritable_log_does_not_stall_the_function(tmp_path):
    worker, log = logged_worker(tmp_path, timeout=5.0)
    (tmp_path / "code" / "loud.py").write_text(
        "def handler(event, context):\n"
        "    for n in range(4000):\n"
        "        print('x' * 100)  # 400 KB: far more than a pipe holds\n"
        "    return 'done'\n")
    worker.spec = FunctionSpec(**{**worker.spec.__dict__, "handler": "loud.handler"})
    log.parent.mkdir()
    log.mkdir()  # a directory where the file should be: every write fails
    try:
        for n in range(2):
            result = worker.invoke({}, f"r{n}")
            assert result.ok and result.payload == "done", result
    finally:
        worker.close()

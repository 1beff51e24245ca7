"""Off the happy path of the stack's life (issue 12, items 5, 6, 8, 11), through the real CLI
with real background processes: two commands at once in one home, a damaged state file, a
stopped or wedged emulator, and a `down` that must leave nothing for the next `up`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.cli import cli_environment, orderhist

DAMAGE = {
    "empty": "",
    "truncated": '{\n  "account": "123456789012",\n  "endpoint": "http://127.0.0.1:',
    "not-json": "this is not json\n",
    "a-list": "[1, 2, 3]\n",
    "wrong-types": json.dumps({"target": "local", "prefix": "orderhist", "region": "us-east-1",
                               "resources": ["stream"], "settings": "none"}),
}


def start(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "orderhist", "--home", str(home), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_environment("misleading"))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state.rsplit(")", 1)[-1].split()[0] != "Z"


def pids(home: Path) -> dict[str, int]:
    return {path.stem: int(path.read_text()) for path in (home / "run").glob("*.pid")}


def up(home: Path) -> None:
    result = orderhist(home, "up")
    assert result.returncode == 0, result.stderr


def down_quietly(home: Path) -> None:
    for pid in pids(home).values():  # a stopped process cannot act on SIGTERM
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    orderhist(home, "down")


def host_lines(home: Path) -> list[int]:
    """LineNo (the ninth column) of every line the host's logs hold."""
    numbers = []
    for path in sorted((home / "host" / "orders").glob("*.log")):
        for text in path.read_text(encoding="utf-8").splitlines():
            numbers.append(int(text.rsplit(",", 2)[-2]))
    return numbers


def orders_json(home: Path, customer: str = "17850") -> dict:
    shown = orderhist(home, "orders", "--customer", customer, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def wait_for_orders(home: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = orders_json(home)
        if found["orders"] or time.monotonic() > deadline:
            return found
        time.sleep(1)


# --- item 6: a damaged state file --------------------------------------------------------

@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_state_file_is_named_in_one_line(tmp_path, damage):
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.json").write_text(DAMAGE[damage])
    for args in (["status"], ["status", "--json"], ["orders", "--customer", "17850"], ["up"],
                 ["generate", "--count", "5"], ["rejects"]):
        result = orderhist(home, *args, timeout=60)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1, (args, result.stderr)
        assert len(lines) == 1 and "Traceback" not in result.stderr, (args, result.stderr)
        assert f"{home / 'state.json'} is damaged" in lines[0], lines[0]
        assert "orderhist down" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_down_stops_the_processes_of_a_damaged_state(tmp_path, damage):
    home = tmp_path / "home"
    try:
        up(home)
        running = pids(home)
        assert set(running) == {"emulator", "agent", "runtime"}
        (home / "state.json").write_text(DAMAGE[damage])
        result = orderhist(home, "down")
        assert result.returncode == 0, result.stderr
        assert "damaged" in result.stderr and "Traceback" not in result.stderr
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in running.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in running.values())
        assert not (home / "state.json").exists()
        assert (home / "state.json.damaged").read_text() == DAMAGE[damage]  # kept aside
        assert orderhist(home, "down").returncode == 0
        assert orderhist(home, "up").returncode == 0  # the home is usable again
    finally:
        down_quietly(home)


# --- item 5: two commands at once in one home ----------------------------------------------

@pytest.mark.slow
def test_two_ups_then_two_generates_at_once(tmp_path):
    home = tmp_path / "home"
    try:
        ups = [start(home, "up"), start(home, "up")]
        outcomes = [(process.wait(timeout=300), *process.communicate()) for process in ups]
        assert [code for code, _, _ in outcomes] == [0, 0], outcomes
        assert any("waiting for" in err for _, _, err in outcomes), outcomes
        running = pids(home)
        assert set(running) == {"emulator", "agent", "runtime"}
        assert all(alive(pid) for pid in running.values())
        status = json.loads(orderhist(home, "status", "--json").stdout)
        assert all(info["exists"] for info in status["resources"].values())

        # A rate makes each run take ~0.5 s, so the two surely overlap.
        runs = [start(home, "generate", "--count", "2000", "--rate", "4000", "--json")
                for _ in range(2)]
        reports = []
        for process in runs:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            reports.append(json.loads(out))
        ranges = sorted((r["first_line"], r["last_line"]) for r in reports)
        assert ranges == [(1, 2000), (2001, 4000)], reports
        written = host_lines(home)
        assert len(written) == 4000 and sorted(written) == list(range(1, 4001))
        position = json.loads((home / "host" / "position.json").read_text())
        assert list(position.values()) == [4000]
    finally:
        down_quietly(home)


# --- item 8: a stalled emulator ------------------------------------------------------------

@pytest.mark.slow
def test_a_stopped_emulator_fails_reads_fast_and_up_repairs_it(tmp_path):
    home = tmp_path / "home"
    try:
        up(home)
        generated = orderhist(home, "generate", "--count", "50", "--wait")
        assert generated.returncode == 0, generated.stderr
        before = orders_json(home)
        assert before["orders"]
        emulator = pids(home)["emulator"]
        os.kill(emulator, signal.SIGSTOP)
        for args in (["orders", "--customer", "17850"], ["rejects", "--json"]):
            began = time.monotonic()
            result = orderhist(home, *args, timeout=60)
            took = time.monotonic() - began
            assert result.returncode == 1, result.stderr
            assert result.stderr.strip() == \
                "Error: the local emulator is not answering: run `orderhist up`", result.stderr
            assert took < 12, f"{args} took {took:.1f} s"
        repaired = orderhist(home, "up")
        assert repaired.returncode == 0, repaired.stderr
        # Stopped, not broken: continued, with everything it held.
        assert orders_json(home) == before
    finally:
        down_quietly(home)


WEDGED = ("import socket, time, sys\n"
          "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64); time.sleep(600)\n")


@pytest.mark.slow
def test_a_wedged_emulator_is_replaced_by_up(tmp_path):
    home = tmp_path / "home"
    wedged = None
    try:
        up(home)
        assert orderhist(home, "generate", "--count", "50", "--wait").returncode == 0
        state = json.loads((home / "state.json").read_text())
        port = state["endpoint"].rsplit(":", 1)[1]
        os.kill(pids(home)["emulator"], signal.SIGKILL)
        time.sleep(0.5)
        # A process of this home on the emulator's port that accepts and never answers.
        wedged = subprocess.Popen([sys.executable, "-c", WEDGED, port, "--home", str(home)],
                                  start_new_session=True)
        (home / "run" / "emulator.pid").write_text(f"{wedged.pid}\n")
        time.sleep(0.5)
        began = time.monotonic()
        result = orderhist(home, "orders", "--customer", "17850")
        assert result.returncode == 1 and "not answering" in result.stderr, result.stderr
        assert time.monotonic() - began < 12
        repaired = orderhist(home, "up")
        assert repaired.returncode == 0, repaired.stderr
        assert "started emulator" in repaired.stdout
        assert wedged.wait(timeout=10) is not None
        assert pids(home)["emulator"] != wedged.pid
        # The new stack is rebuilt from the host's logs.
        assert wait_for_orders(home)["orders"]
    finally:
        if wedged is not None and wedged.poll() is None:
            wedged.kill()
        down_quietly(home)


# --- item 11: down removes the host's data -------------------------------------------------

@pytest.mark.slow
def test_down_then_up_gives_a_fresh_stack(tmp_path):
    home = tmp_path / "home"
    try:
        up(home)
        assert orderhist(home, "generate", "--count", "100", "--wait").returncode == 0
        assert orders_json(home)["orders"]
        assert orderhist(home, "down").returncode == 0
        assert not (home / "host").exists() and not (home / "agent").exists()
        up(home)
        time.sleep(5)  # time enough for an agent to ship old logs, were there any
        assert orders_json(home)["orders"] == []
        status = json.loads(orderhist(home, "status", "--json").stdout)
        assert status["agent"]["lines_read"] == 0
        again = orderhist(home, "generate", "--count", "10", "--json")
        assert json.loads(again.stdout)["first_line"] == 1  # the position went with the host

        # --keep-host-data keeps the logs and the position: the next `up` ships them again.
        assert orderhist(home, "down", "--keep-host-data").returncode == 0
        assert len(host_lines(home)) == 10
        up(home)
        assert wait_for_orders(home)["orders"]
        later = orderhist(home, "generate", "--count", "5", "--json")
        assert json.loads(later.stdout)["first_line"] == 11
    finally:
        down_quietly(home)

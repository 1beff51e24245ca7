"""Following files against the real moto server: rotation, truncation, several files at once,
partial lines, restarts, oversized lines. Every line is counted by its LineNo."""
from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

from helpers.agent import (
    AgentThread,
    agent_config,
    checkpoint_offsets,
    line_numbers,
    make_stream,
    read_stream,
    stats_of,
    wait_for_lines,
    wait_until,
    write_lines,
)
from helpers.lines import order_line
from orderhist import records
from orderhist.agent import read_dead_letters


def assert_each_once(found, expected: range):
    counts = line_numbers(found)
    missing = sorted(set(expected) - set(counts))
    assert not missing, f"{len(missing)} lines never arrived, first {missing[:5]}"
    repeated = {n: c for n, c in counts.items() if c > 1}
    assert not repeated, f"{len(repeated)} lines arrived twice, e.g. {list(repeated)[:5]}"
    assert set(counts) == set(expected)


def test_rename_rotation_and_timestamped_files(tmp_path, local_target, unique_name):
    client = make_stream(local_target, unique_name, shards=2)
    config = agent_config(tmp_path, local_target, unique_name)
    logs = tmp_path / "logs"
    with AgentThread(config):
        # logrotate's default: app.log.1 -> app.log.2, app.log -> app.log.1, new app.log.
        # The rotated names do not match *.log: the agent must finish them by inode.
        number = 1
        for _rotation in range(4):
            for batch in range(5):
                write_lines(logs / "app.log", range(number, number + 100))
                number += 100
                if batch == 0:
                    # logrotate does not rotate a file before the agent has seen it exist.
                    wait_until(lambda: checkpoint_offsets(config).get(str(logs / "app.log"))
                               == (logs / "app.log").stat().st_size, 10,
                               "the new app.log was not noticed")
                time.sleep(0.01)
            if (logs / "app.log.1").exists():
                os.rename(logs / "app.log.1", logs / "app.log.2")
            os.rename(logs / "app.log", logs / "app.log.1")
        # Timestamped files: a new name every so often, each a new file read from its start.
        for hour in range(3):
            write_lines(logs / f"orders-2026112804{hour:02d}.log", range(number, number + 300))
            number += 300
        found = wait_for_lines(client, unique_name, number - 1)
    assert_each_once(found, range(1, number))


@pytest.mark.parametrize("pattern", ["*.log", "app.log*"])
def test_copytruncate(tmp_path, local_target, unique_name, pattern):
    """logrotate's copytruncate: copy to app.log.1, then empty app.log in place. What the
    agent had not read yet when the file was emptied is read from the copy; with app.log*
    the copies match the pattern too and must not be sent a second time."""
    client = make_stream(local_target, unique_name)
    config = agent_config(tmp_path, local_target, unique_name,
                          filePattern=str(tmp_path / "logs" / pattern))
    logs = tmp_path / "logs"
    number = 1
    with AgentThread(config):
        fd = os.open(logs / "app.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for _rotation in range(4):
                for _ in range(4):
                    os.write(fd, "".join(order_line(n) for n in range(number, number + 150))
                             .encode())
                    number += 150
                    time.sleep(0.02)
                # A burst just before the copy, so some of it is only in the copy.
                os.write(fd, "".join(order_line(n) for n in range(number, number + 400))
                         .encode())
                number += 400
                for older in range(3, 0, -1):
                    if (logs / f"app.log.{older}").exists():
                        os.rename(logs / f"app.log.{older}", logs / f"app.log.{older + 1}")
                shutil.copyfile(logs / "app.log", logs / "app.log.1")
                os.truncate(logs / "app.log", 0)
                # logrotate does not rotate again before the agent has looked at the file:
                # a generation copied and emptied unseen would be in no file it knows of.
                first = order_line(number).encode()
                os.write(fd, first)
                size = len(first)
                wait_until(lambda size=size: checkpoint_offsets(config).get(
                    str(logs / "app.log")) == size, 20, "the truncation was not noticed")
                number += 1
            os.write(fd, "".join(order_line(n) for n in range(number, number + 100)).encode())
            number += 100
        finally:
            os.close(fd)
        found = wait_for_lines(client, unique_name, number - 1)
        time.sleep(0.5)  # a late duplicate would show up by now
        found = read_stream(client, unique_name)
    assert_each_once(found, range(1, number))


def test_three_files_written_at_once_each_in_order(tmp_path, local_target, unique_name):
    client = make_stream(local_target, unique_name, shards=1)
    config = agent_config(tmp_path, local_target, unique_name, partitionKeyOption="RANDOM")
    logs = tmp_path / "logs"
    per_file = 2000

    def writer(index: int):
        first = 1 + index * per_file
        for start in range(first, first + per_file, 50):
            write_lines(logs / f"app{index}.log", range(start, start + 50))
            time.sleep(0.005)

    with AgentThread(config):
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        found = wait_for_lines(client, unique_name, 3 * per_file)
    assert_each_once(found, range(1, 3 * per_file + 1))
    order = line_numbers_in_order(found)
    for index in range(3):
        mine = [n for n in order if (n - 1) // per_file == index]
        assert mine == sorted(mine), f"app{index}.log's lines arrived out of order"


def line_numbers_in_order(found):
    return [records.parse_wire(r["Data"]).line_no for r in found]


def test_partial_lines_wait_and_restart_resumes_exactly(tmp_path, local_target, unique_name):
    client = make_stream(local_target, unique_name)
    config = agent_config(tmp_path, local_target, unique_name)
    log = tmp_path / "logs" / "app.log"
    write_lines(log, range(1, 301))
    half = order_line(301)
    with open(log, "a") as handle:
        handle.write(half[:25])  # a line still being written
    with AgentThread(config):
        wait_for_lines(client, unique_name, 300)
        time.sleep(0.3)
        assert max(line_numbers(read_stream(client, unique_name))) == 300
        wait_until(lambda: checkpoint_offsets(config).get(str(log)) == log.stat().st_size - 25,
                   5, "the checkpoint did not reach the last whole line")
    with open(log, "a") as handle:  # finished while the agent is stopped
        handle.write(half[25:])
    write_lines(log, range(302, 401))
    with AgentThread(config):
        found = wait_for_lines(client, unique_name, 400)
        wait_until(lambda: checkpoint_offsets(config).get(str(log)) == log.stat().st_size,
                   5, "the checkpoint did not reach the end of the file")
    assert_each_once(found, range(1, 401))


def test_end_of_file_header_lines_and_oversized_lines(tmp_path, local_target, unique_name):
    client = make_stream(local_target, unique_name)
    logs = tmp_path / "logs"
    logs.mkdir()
    write_lines(logs / "old.log", range(1, 51))  # there before the first start: skipped
    config = agent_config(tmp_path, local_target, unique_name, initialPosition="END_OF_FILE",
                          skipHeaderLines=1)
    big_line = order_line(62, description="X" * (1024 * 1024))  # over Kinesis' 1 MiB
    with AgentThread(config):
        time.sleep(0.3)
        write_lines(logs / "old.log", range(51, 61))
        with open(logs / "new.log", "w") as handle:
            handle.write("InvoiceNo,StockCode,Description\n")  # the header of a new file
            handle.write(order_line(61))
            handle.write(big_line)
            handle.write(order_line(63))
        found = wait_for_lines(client, unique_name, 12)
        wait_until(lambda: stats_of(config)["dead_letters"] == 1, 5, "no dead letter counted")
        wait_until(lambda: checkpoint_offsets(config).get(str(logs / "new.log"))
                   == (logs / "new.log").stat().st_size, 5, "checkpoint stuck at the big line")
    assert_each_once(found, [*range(51, 62), 63])
    letters = read_dead_letters(tmp_path / "state" / "checkpoints.json.deadletter.jsonl")
    assert len(letters) == 1 and letters[0]["line"] == big_line.encode()  # whole, not cut


def test_rotations_while_the_agent_is_down(tmp_path, local_target, unique_name):
    """Renamed and copytruncated while stopped: the restart finds the old content by inode
    (rename) or by its first bytes (the copy) and resumes at the checkpoint."""
    client = make_stream(local_target, unique_name)
    config = agent_config(tmp_path, local_target, unique_name)
    logs = tmp_path / "logs"
    renamed, copied = logs / "app.log", logs / "b.log"
    write_lines(renamed, range(1, 501))
    write_lines(copied, range(1001, 1301))
    with AgentThread(config):
        wait_for_lines(client, unique_name, 800)
        wait_until(lambda: checkpoint_offsets(config) == {
            str(renamed): renamed.stat().st_size, str(copied): copied.stat().st_size},
            5, "checkpoint did not catch up")
    write_lines(renamed, range(501, 701))
    os.rename(renamed, logs / "app.log.1")
    write_lines(renamed, range(701, 901))
    write_lines(copied, range(1301, 1501))
    shutil.copyfile(copied, logs / "b.log.1")
    os.truncate(copied, 0)
    write_lines(copied, range(1501, 1601))
    with AgentThread(config):
        found = wait_for_lines(client, unique_name, 1500)
        time.sleep(0.3)
        found = read_stream(client, unique_name)
    assert_each_once(found, [*range(1, 901), *range(1001, 1601)])

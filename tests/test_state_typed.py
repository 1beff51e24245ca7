"""The state file read into a typed record: its version checked on load, every field of a
version 1 file in its attribute, and a load and a save that change nothing on disk."""
from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from helpers.cli import orderhist
from orderhist import aws, lifecycle, locks, validate
from orderhist import state as state_module
from orderhist.errors import OrderhistError
from orderhist.resources import Settings
from orderhist.state import DamagedFile, Home, StackState, StateVersionProblem

# A version 1 file as `up` writes it for a local stack, with every key it can hold.
VERSION_1 = {
    "version": 1,
    "target": "local",
    "prefix": "shop",
    "region": "eu-west-1",
    "endpoint": "http://127.0.0.1:4566",
    "account": "123456789012",
    "iam": "off",
    "faults": 0.25,
    "fault_seed": 7,
    "settings": {"shards": 2, "on_demand": False, "instance_type": "t4g.small"},
    "resources": {
        "table": {"arn": "arn:aws:dynamodb:eu-west-1:123456789012:table/shop-orders",
                  "id": "shop-orders"},
        "security_group": {"id": "sg-1", "vpc": "vpc-1"},
        "mapping": {"arn": None, "id": "uuid-1"},
    },
}


def write(home: Home, data: dict) -> None:
    home.root.mkdir(parents=True, exist_ok=True)
    # As write_json_atomic lays it out: the bytes a round trip must reproduce.
    home.state_file.write_text(json.dumps(data, indent=2, sort_keys=True))


def test_a_version_1_file_loads_into_every_field(tmp_path):
    home = Home(tmp_path)
    write(home, VERSION_1)
    state = StackState.load(home)
    assert (state.kind, state.prefix, state.region) == ("local", "shop", "eu-west-1")
    assert state.endpoint == "http://127.0.0.1:4566"
    assert state.account == "123456789012"
    assert (state.iam, state.faults, state.fault_seed, state.profile) == ("off", 0.25, 7, None)
    assert state.settings == Settings(shards=2, on_demand=False, instance_type="t4g.small")
    assert state.chosen_settings() == VERSION_1["settings"]
    assert state.resources == VERSION_1["resources"]
    assert state.resource_id("table") == "shop-orders"
    assert state.resource_arn("mapping") is None and state.resource_id("queue") is None
    assert state.target() == aws.Target(aws.LOCAL, "eu-west-1", "http://127.0.0.1:4566")
    assert state.is_local and not lifecycle.iam_enforced(state)


@pytest.mark.parametrize("data", [
    VERSION_1,
    # What `up` writes before it knows the account, and after an emulator restart (null).
    {"version": 1, "target": "aws", "prefix": "p", "region": "us-east-1", "endpoint": None,
     "resources": {}, "settings": {}},
    {"version": 1, "target": "local", "prefix": "p", "region": "us-east-1",
     "endpoint": "http://127.0.0.1:1", "account": None, "fault_seed": None, "faults": 0.0,
     "resources": {}, "settings": {"agent": "kinesis-agent"}, "profile": "ops"},
    # A key this orderhist gives no attribute to is kept, not dropped.
    {"version": 1, "target": "aws", "prefix": "p", "region": "us-east-1", "resources": {},
     "note": "kept"},
], ids=["every-key", "aws-fresh", "nulls", "unknown-key"])
def test_a_load_and_a_save_keep_the_file_byte_for_byte(tmp_path, data):
    home = Home(tmp_path)
    write(home, data)
    before = home.state_file.read_bytes()
    StackState.load(home).save()
    assert home.state_file.read_bytes() == before


def test_set_writes_a_null_and_an_attribute_never_set_stays_out(tmp_path):
    home = Home(tmp_path)
    state = StackState.new(home, target="local", prefix="p", region="us-east-1")
    state.save()
    assert "account" not in json.loads(home.state_file.read_text())
    state.set(account=None)
    assert json.loads(home.state_file.read_text())["account"] is None
    with pytest.raises(AttributeError):
        state.set(colour="blue")


def test_a_file_of_a_newer_version_is_refused_in_one_line(tmp_path):
    home = tmp_path / "home"
    write(Home(home), {**VERSION_1, "version": 2, "target": "mars", "resources": []})
    result = orderhist(home, "status")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(home / "state.json") in lines[0]
    assert "written by a newer orderhist (version 2" in lines[0]
    assert "upgrade orderhist" in lines[0]
    # Not taken for damage: `down` keeps its hands off what it cannot read.
    written = (home / "state.json").read_bytes()
    result = orderhist(home, "down", "--yes")
    assert result.returncode == 1 and "upgrade orderhist" in result.stderr, result.stderr
    assert (home / "state.json").read_bytes() == written
    assert not issubclass(StateVersionProblem, DamagedFile)


def test_a_file_older_than_this_orderhist_reads_is_refused(tmp_path, monkeypatch):
    home = Home(tmp_path)
    write(home, {**VERSION_1, "version": 0})
    with pytest.raises(StateVersionProblem, match=r"older orderhist \(version 0\).*move the "
                                                  "file away"):
        StackState.load(home)


def test_an_older_version_it_can_read_is_upgraded_on_load(tmp_path, monkeypatch):
    # As a version 2 might: version 1's "iam" gone, a note in its place.
    monkeypatch.setattr(state_module, "STATE_VERSION", 2)
    monkeypatch.setattr(state_module, "UPGRADES", {1: lambda data: {
        **{k: v for k, v in data.items() if k != "iam"}, "note": f"iam was {data['iam']}"}})
    home = Home(tmp_path)
    write(home, VERSION_1)
    state = StackState.load(home)
    assert state.iam is None and state.prefix == "shop"
    state.save()
    saved = json.loads(home.state_file.read_text())
    assert saved["version"] == 2 and saved["note"] == "iam was off" and "iam" not in saved


@pytest.mark.parametrize("version", ["1", True, 1.5])
def test_a_version_of_the_wrong_type_is_damage(tmp_path, version):
    home = Home(tmp_path)
    write(home, {**VERSION_1, "version": version})
    with pytest.raises(DamagedFile, match="'version' has the wrong type"):
        StackState.load(home)


def test_up_leaves_its_callers_options_as_given(tmp_path):
    # A dry run of a stack that is not there resolves everything and touches nothing.
    home = Home(tmp_path / "home")
    options = lifecycle.UpOptions(region="eu-west-1", dry_run=True)
    given = replace(options)
    lifecycle.up(home, options)
    assert options == given and options.target is None and options.prefix is None


def test_resolving_fills_a_copy_from_the_record(tmp_path):
    home = Home(tmp_path)
    write(home, VERSION_1)
    options = lifecycle.UpOptions(shards=3)
    given = replace(options)
    resolved, settings, _ = lifecycle._resolve(options, StackState.load(home))
    assert options == given
    assert (resolved.target, resolved.prefix, resolved.region) == ("local", "shop", "eu-west-1")
    assert settings == {**VERSION_1["settings"], "shards": 3}


def test_a_missing_record_the_command_needs_is_one_line_naming_up(tmp_path):
    # A half-made stack: the table was never recorded. `generate --wait` on AWS needs it.
    home = Home(tmp_path)
    write(home, {**VERSION_1, "target": "aws", "resources": {}})
    state = StackState.load(home)
    with pytest.raises(OrderhistError, match=r"^the stack has no table: run `orderhist up`"):
        state.required_id("table", "table")
    state.record("table", id="shop-orders", arn="arn:aws:dynamodb:eu-west-1:1:table/shop-orders")
    assert state.required_id("table", "table") == "shop-orders"


def test_the_home_orderhist_makes_is_private_and_a_folder_that_was_there_keeps_its_mode(tmp_path):
    made = Home(tmp_path / "new" / "home")
    validate.usable_home(made.root)  # what `up` does first, before its lock and make_dirs
    with locks.hold(made, locks.STACK, "up"):
        made.make_dirs()
    for folder in (made.root, made.run_dir, made.logs_dir, made.orders_log_dir):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    # A --home the user named that was there already (their home folder, even /): its mode,
    # and that of a folder in it of the same name as one of orderhist's, stay as they were.
    given = Home(tmp_path / "theirs")
    (given.root / "run").mkdir(parents=True)
    os.chmod(given.root, 0o755)
    os.chmod(given.run_dir, 0o755)
    given.make_dirs()
    assert given.root.stat().st_mode & 0o777 == 0o755
    assert given.run_dir.stat().st_mode & 0o777 == 0o755
    assert given.logs_dir.stat().st_mode & 0o777 == 0o700

"""Usage errors and exit codes of every command, in this process through `main` (click's
CliRunner isolates the streams): fast, no server, no stack. What a user sees is one line on
stderr and the exit code; the subprocess end-to-end tests cover the same `main` for real."""
from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import click
import pytest
from botocore.exceptions import NoCredentialsError
from click.testing import CliRunner

from orderhist.cli import cli, main
from orderhist.errors import OrderhistError, UsageProblem
from orderhist.state import StackState


def run(*args: str, home: Path | None = None) -> tuple[int, str, str]:
    argv = (["--home", str(home)] if home else []) + list(args)
    with CliRunner().isolation(env={"ORDERHIST_HOME": None}) as (out, err, *_):
        saved, sys.argv = sys.argv, ["orderhist", *argv]
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code or 0
        finally:
            sys.argv = saved
        return int(code), out.getvalue().decode(), err.getvalue().decode()


def one_line(err: str, *words: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"  # never created: a usage error must not need one


USAGE = [
    # up: option types and the options that exclude each other
    (["up", "--target", "nowhere"], "Invalid value for '--target'"),
    (["up", "--prefix", "Bad_Prefix"], "--prefix"),
    (["up", "--shards", "0"], "--shards"),
    (["up", "--shards", "2", "--on-demand"], "--shards and --on-demand exclude each other"),
    (["up", "--endpoint-url", "http://127.0.0.1:1"], "--endpoint-url applies to --target aws"),
    (["up", "--target", "aws", "--faults", "0.1"], "--faults applies to the local emulator"),
    (["up", "--target", "aws", "--no-iam"], "--iam/--no-iam applies to the local emulator"),
    (["up", "--faults", "2"], "--faults"),
    (["up", "--instance-type", "no such type"], "--instance-type"),
    (["up", "--agent", "fluentd"], "Invalid value for '--agent'"),
    (["status", "--table"], "No such option '--table'"),
    # generate
    (["generate"], "Missing option '--count'"),
    (["generate", "--count", "0"], "--count"),
    (["generate", "--count", "1", "--rate", "0"], "--rate"),
    (["generate", "--count", "1", "--timeout", "nan"], "--timeout"),
    (["generate", "--count", "1", "--source", "/no/such/file.csv"], "--source"),
    # orders
    (["orders"], "name a --customer, an --invoice, or both"),
    (["orders", "--customer", "17850", "--json", "--csv"], "--json and --csv exclude each other"),
    (["orders", "--invoice", "536365", "--follow"], "--follow needs --customer and the table view"),
    (["orders", "--customer", "17850", "--json", "--follow"], "--follow needs --customer"),
    (["orders", "--invoice", "536365", "--limit", "3"], "apply to a --customer's orders"),
    (["orders", "--customer", "x"], "--customer 'x' is not a customer number"),
    (["orders", "--invoice", " "], "is not an invoice number"),
    # A number the pipeline never stores is a typo, not "No such invoice." (exit 0).
    (["orders", "--invoice", "536365!"], "is not an invoice number"),
    # Options that exclude each other are bad input before any stack is looked for.
    (["rejects", "--clear", "--json"], "--clear works on the grouped view"),
    (["rejects", "--clear", "--replay"], "--clear works on the grouped view"),
    (["orders", "--customer", "17850", "--limit", "0"], "--limit"),
    (["orders", "--customer", "17850", "--since", "2011-13-01"], "is not a date"),
    (["orders", "--customer", "17850", "--after", "not-a-cursor"], "--after"),
    # rejects, down
    (["rejects", "--limit", "0"], "--limit"),
    (["down", "--force"], "No such option '--force'"),
    # watch, logs, env
    (["watch", "--json"], "--json needs --once"),
    (["watch", "--interval", "0.1"], "--interval"),
    (["logs", "nowhere"], "'nowhere' is not one of 'agent'"),
    (["env", "--shell", "csh"], "Invalid value for '--shell'"),
    # emulator, agent, runtime, dataset, host-generate
    (["emulator", "serve", "--port", "70000"], "--port"),
    (["emulator", "serve", "--faults", "2"], "--faults"),
    (["emulator", "serve", "--consistency-delay", "601"], "--consistency-delay"),
    (["emulator", "stop"], "No such command 'stop'"),
    (["agent", "run"], "Missing option '--config'"),
    (["runtime", "run", "--port", "1"], "No such option '--port'"),
    (["dataset", "info", "--source", "/no/such/file.csv"], "--source"),
    (["dataset", "synth"], "Missing option '--out'"),
    (["dataset", "synth", "--rows", "0", "--out", "x.csv"], "--rows"),
    (["dataset", "download"], "Missing option '--out'"),
    (["host-generate", "--count", "1"], "Missing option '--report'"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
]


@pytest.mark.parametrize("args, words", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_errors_are_one_line_naming_help_and_exit_2(home, args, words):
    code, out, err = run(*args, home=home)
    assert code == 2, err
    line = one_line(err, words)
    assert line.startswith("Error: ") and line.endswith("--help`)"), line
    assert out == ""
    assert not home.exists()


def test_usage_problems_from_the_library_are_one_line_and_exit_2(home):
    # Found by the library, not by click: one line, without the pointer to --help.
    code, _, err = run("orders", "--customer", "17850", "--since", "2011-02-01",
                       "--until", "2011-01-01", home=home)
    assert code == 2
    one_line(err, "Error: ", "--since")
    code, _, err = run("logs", "--since", "yesterday-ish", home=home)
    assert code == 2
    one_line(err, "Error: ", "--since")


def test_a_missing_output_folder_is_a_usage_error(tmp_path):
    code, _, err = run("dataset", "synth", "--rows", "10", "--out",
                       str(tmp_path / "missing" / "x.csv"))
    assert code == 2
    one_line(err, "--out")


COMMANDS = [[], ["up"], ["status"], ["generate"], ["orders"], ["rejects"], ["down"], ["watch"],
            ["logs"], ["env"], ["emulator"], ["emulator", "serve"], ["agent"], ["agent", "run"],
            ["runtime"], ["runtime", "run"], ["dataset"], ["dataset", "info"],
            ["dataset", "synth"], ["dataset", "download"], ["host-generate"]]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) or "orderhist" for a in COMMANDS])
def test_help_of_every_command(home, args):
    code, out, err = run(*args, "--help", home=home)
    assert code == 0 and err == ""
    assert out.startswith(f"Usage: orderhist {' '.join(args)}".rstrip() + " ")
    assert not home.exists()


def test_every_command_has_its_help_here():
    listed = {" ".join(args) for args in COMMANDS}
    context = click.Context(cli)
    names = cli.list_commands(context)
    assert len(names) == len([args for args in COMMANDS if len(args) == 1])
    for name in names:
        command = cli.get_command(context, name)
        assert name in listed and command is not None and command.name == name
        for sub in getattr(command, "commands", {}):
            assert f"{name} {sub}" in listed


def test_version_exits_0(home):
    code, out, _ = run("--version", home=home)
    assert code == 0 and out.startswith("orderhist, version ")


NO_STACK = [["status"], ["generate", "--count", "1"], ["orders", "--customer", "17850"],
            ["orders", "--invoice", "536365"], ["rejects"], ["rejects", "--replay"],
            ["watch", "--once"], ["logs"], ["env"]]


@pytest.mark.parametrize("args", NO_STACK, ids=[" ".join(a) for a in NO_STACK])
def test_commands_that_need_a_stack_say_so_and_exit_1(home, args):
    code, out, err = run(*args, home=home)
    assert code == 1
    assert one_line(err) == "Error: no stack here: run `orderhist up` first"
    assert out == ""


def test_runtime_without_an_endpoint_exits_1(home):
    code, _, err = run("runtime", "run", home=home)
    assert code == 1
    assert one_line(err) == ("Error: no emulator endpoint: run `orderhist up` or pass "
                             "--endpoint-url")


def failing_load(monkeypatch, error: BaseException) -> None:
    def load(cls, home):
        raise error
    monkeypatch.setattr(StackState, "load", classmethod(load))


@pytest.mark.parametrize("error, code, line", [
    (OrderhistError("the agent is not running"), 1, "Error: the agent is not running"),
    (UsageProblem("--config names no file"), 2, "Error: --config names no file"),
    (RuntimeError("boom\nsecond line"), 1,
     "Error: RuntimeError: boom (run with --verbose for details)"),
    (KeyError("Items"), 1, "Error: KeyError: 'Items' (run with --verbose for details)"),
    (NoCredentialsError(), 1, "Error: no AWS credentials found: set AWS_PROFILE (or "
     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run `aws configure`"),
])
def test_errors_map_to_their_exit_codes(home, monkeypatch, error, code, line):
    failing_load(monkeypatch, error)
    found, _, err = run("status", home=home)
    assert found == code
    assert one_line(err) == line


def test_ctrl_c_in_a_command_is_clicks_abort(home, monkeypatch):
    # click turns an interrupt inside a command into Abort ("Aborted.", 1); `main`'s 130 is
    # for one that arrives outside click.
    failing_load(monkeypatch, KeyboardInterrupt())
    code, out, err = run("status", home=home)
    assert (code, out, err.strip()) == (1, "", "Aborted.")


def test_a_path_problem_exits_2_naming_the_fix(home, monkeypatch):
    failing_load(monkeypatch, PermissionError(errno.EACCES, "Permission denied",
                                              str(home / "stack.json")))
    code, _, err = run("status", home=home)
    assert code == 2
    one_line(err, str(home), "choose another --home")


def test_a_stalled_emulator_names_up(home, monkeypatch):
    from botocore.exceptions import ReadTimeoutError

    failing_load(monkeypatch, ReadTimeoutError(endpoint_url="http://127.0.0.1:4566/"))
    code, _, err = run("status", home=home)
    assert code == 1
    assert one_line(err) == "Error: the local emulator is not answering: run `orderhist up`"


def test_an_unreachable_endpoint_elsewhere_names_the_endpoint(home, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    failing_load(monkeypatch, EndpointConnectionError(endpoint_url="https://example.com/"))
    code, _, err = run("status", home=home)
    assert code == 1
    one_line(err, "cannot reach the stack's endpoint")


def test_verbose_shows_the_traceback_of_failures_but_not_of_usage_problems(home, monkeypatch):
    failing_load(monkeypatch, RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        run("-v", "status", home=home)
    failing_load(monkeypatch, OrderhistError("stuck"))
    with pytest.raises(OrderhistError, match="stuck"):
        run("--verbose", "status", home=home)
    failing_load(monkeypatch, UsageProblem("bad file"))
    code, _, err = run("-v", "status", home=home)
    assert code == 2 and one_line(err) == "Error: bad file"


def test_declining_a_confirmation_is_aborted_exit_1(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.json").write_text(json.dumps(
        {"version": 1, "target": "aws", "prefix": "p", "region": "us-east-1", "resources": {}}))
    with CliRunner().isolation(input="n\n", env={"ORDERHIST_HOME": None}) as (out, err, *_):
        saved, sys.argv = sys.argv, ["orderhist", "--home", str(home), "down"]
        try:
            with pytest.raises(SystemExit) as done:
                main()
        finally:
            sys.argv = saved
        assert done.value.code == 1
        assert err.getvalue().decode().strip().endswith("Aborted.")


@pytest.mark.parametrize("typo, near", [("ordres", "orders"), ("statu", "status")])
def test_a_misspelt_command_is_told_the_one_it_was_near(home, monkeypatch, typo, near):
    # As in a fresh `orderhist` process: no command loaded yet (they load when they run).
    monkeypatch.setattr(cli, "commands", {})
    code, _, err = run(typo, home=home)
    assert code == 2
    assert one_line(err).startswith(f"Error: No such command '{typo}'. Did you mean '{near}'?")

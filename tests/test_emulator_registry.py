"""Everything the emulator changes in moto is declared in one registry and checked before it
is applied: a moto that differs (here: one whose Shard.get_records takes other arguments, as
a future moto might) gets stock mode with a one-line warning in the log, the health route and
`orderhist status`, and the emulator's modules import one way only."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from helpers.emulator import REGION, start_emulator
from orderhist import aws, emulator, processes
from orderhist.emulator import registry

EMULATOR_DIR = Path(emulator.__file__).parent
# The layers, bottom first: a module imports only from layers below it, or from its own
# layer without a cycle (checked separately).
LAYERS = [
    {"wire", "faults", "keycond", "httpd"},                       # wire format and errors
    {"sizes"},                                                    # sizes and keys
    {"rules", "index", "kinesis_store", "sqs_index"},             # checks and the indexes
    {"patches", "fixes", "fast_dynamodb", "fast_items", "fast_query", "fast_kinesis",
     "fast_sqs", "registry"},                                     # the handlers and changes
    {"fastpath"},                                                 # the routing table
    {"consistency", "server"},                                    # the server around it
]


def test_the_installed_moto_is_the_one_the_registry_was_verified_against():
    assert registry.moto_version_problem() is None
    assert registry.mismatches() == []


def test_a_changed_signature_or_a_foreign_original_is_a_mismatch():
    kind, owner, attribute, signature = next(
        change for change in registry.CHANGES if change[2] == "get_records")
    assert registry.mismatches([(kind, owner, attribute, "(self, iterator)")]) == [
        f"{owner}.{attribute} is {signature}, not (self, iterator)"]
    assert registry.mismatches([(kind, owner, "no_such_method", None)]) == []
    assert "is gone" in registry.mismatches([(kind, "moto.kinesis.nowhere:Shard", "x", None)])[0]


def test_an_undeclared_change_is_refused():
    from moto.kinesis.models import Stream

    collect = registry.Collector(registry.FAST)
    with pytest.raises(AssertionError, match="undeclared"):
        collect(Stream, "delete_shard", lambda self: None)


def _imports(path: Path) -> set[str]:
    """The emulator modules a module imports, at its top and inside its functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "orderhist.emulator":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("orderhist.emulator."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[2] for alias in node.names
                      if alias.name.startswith("orderhist.emulator.")}
    return found


def test_the_emulator_modules_import_in_one_direction():
    layer_of = {name: n for n, names in enumerate(LAYERS) for name in names}
    graph = {}
    for path in EMULATOR_DIR.glob("*.py"):
        if path.stem == "__init__":
            continue  # the CLI side: names the package exports, and starts the server
        graph[path.stem] = {name for name in _imports(path)
                            if (EMULATOR_DIR / f"{name}.py").exists()}
    for module, imported in graph.items():
        for name in imported:
            if module in layer_of and name in layer_of:
                assert layer_of[name] <= layer_of[module], f"{module} imports {name} (upward)"
    # No cycle anywhere, including between modules of one layer.
    state: dict[str, int] = {}

    def visit(module, trail):
        if state.get(module) == 1:
            raise AssertionError("import cycle: " + " -> ".join(trail + [module]))
        if state.get(module) == 2:
            return
        state[module] = 1
        for name in graph.get(module, ()):
            visit(name, trail + [module])
        state[module] = 2

    for module in graph:
        visit(module, [])


FOREIGN_MOTO = '''
# A moto whose Shard.get_records is not the one the registry was written against.
from moto.kinesis import models


def get_records(self, iterator_position, limit=None, stream_arn=None):
    return [], iterator_position, 0


models.Shard.get_records = get_records
'''


def test_a_differing_moto_serves_stock_mode_with_a_warning(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(FOREIGN_MOTO)
    home_root = tmp_path / "home"
    from orderhist.state import Home

    home = Home(home_root)
    home.make_dirs()
    env = aws.local_child_environment(REGION)
    env["PYTHONPATH"] = str(shim)
    endpoint = emulator.start(home, env)
    try:
        health = emulator.control(endpoint, "health")
        assert health["fast"] is False
        assert "moto.kinesis.models:Shard.get_records" in health["warning"]
        log = processes.log_file(home, emulator.NAME).read_text()
        warning_lines = [line for line in log.splitlines() if "warning" in line]
        assert len(warning_lines) == 1 and "serving stock moto" in warning_lines[0]
        assert "emulator (stock moto" in log
        assert emulator.warning(endpoint) == health["warning"]
        # Still an emulator: DynamoDB (moto's own path here) answers.
        client = aws.client("dynamodb", aws.Target(aws.LOCAL, REGION, endpoint))
        assert client.list_tables()["TableNames"] == []
    finally:
        emulator.stop(home)


def test_the_verified_moto_serves_fast_without_warning(tmp_path):
    home, target = start_emulator(tmp_path, fast=True)
    try:
        assert emulator.warning(target.endpoint_url) is None
        log = processes.log_file(home, emulator.NAME).read_text()
        assert "warning" not in log and "emulator (fast" in log
    finally:
        emulator.stop(home)


def test_status_shows_the_warning(tmp_path):
    """`orderhist status --json` carries the emulator's warning (the local target)."""
    from helpers.cli import orderhist

    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(FOREIGN_MOTO)
    import os

    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(shim)
    try:
        up = orderhist(tmp_path / "home", "up")
    finally:
        if env_before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_before
    try:
        assert up.returncode == 0, up.stderr
        status = orderhist(tmp_path / "home", "status", "--json")
        report = json.loads(status.stdout)
        assert "serving stock moto" in report["warning"]
        shown = orderhist(tmp_path / "home", "status")
        assert "warning: moto differs" in shown.stdout
        assert "serving stock moto" in " ".join(shown.stdout.split())  # rich wraps lines
    finally:
        orderhist(tmp_path / "home", "down", "--yes")

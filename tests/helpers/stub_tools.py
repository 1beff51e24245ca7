"""The stubbed tools of the host sandbox (see host_sandbox.py), run inside it as
`python -S stub_tools.py <tool path or name> ARGS...`. Every call is recorded, with its exit
status, in $STUB_ROOT/calls.log.

useradd/groupadd/usermod follow shadow-utils where the test depends on it: exit 9 for a name
that exists, 6 for a user or group that does not; a user without -g gets a group of its own
(USERGROUPS_ENAB yes) unless -N; AL2023's default shell is /bin/bash.

The aws-kinesis-agent package here is a stand-in (the real RPM and its Java agent cannot run
here). It does what the package's scripts and file list do that matter to the set-up: %pre
`useradd -c "Streaming Data Agent" -s /sbin/nologin -r -d /usr/share/aws-kinesis-agent
aws-kinesis-agent-user 2>/dev/null || :`, the stock agent.json (%config(noreplace)), the log
and state directories %attr(0755, user, user) (rpm falls back to root for a missing group),
and an init script whose start makes the state directory with `install -o USER -g GROUP`, the
line that fails on AL2023. One assumption, from issue #269 and not from the package: on AL2023
the user comes out of %pre without a group of its own (here: useradd -N).
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("STUB_ROOT", "/run/stubs"))
KUSER = "aws-kinesis-agent-user"
DEFAULT_SHELL = "/bin/bash"
INIT_SCRIPT = f"""#!/bin/bash
# Stand-in for the package's /etc/rc.d/init.d/aws-kinesis-agent: the state directory its
# start makes before it runs the agent as {KUSER} (runuser), which is not here.
set -e
case "${{1:-}}" in
  start) [[ -d /var/run/aws-kinesis-agent ]] || \\
           install -o {KUSER} -g {KUSER} -d /var/run/aws-kinesis-agent ;;
  *) echo "usage: $0 start" >&2; exit 1 ;;
esac
"""
STOCK_CONFIG = {"cloudwatch.emitMetrics": True, "kinesis.endpoint": "", "firehose.endpoint": "",
                "flows": [{"filePattern": "/tmp/app.log*", "kinesisStream": "yourkinesisstream",
                           "partitionKeyOption": "RANDOM"}]}


def record(tool: str, status: int, args: list[str]) -> int:
    with open(ROOT / "calls.log", "a", encoding="utf-8") as log:
        log.write(shlex.join([tool, str(status), *args]) + "\n")
    return status


def table(path: str) -> list[list[str]]:
    return [line.split(":") for line in Path(path).read_text().splitlines() if line]


def append(path: str, fields: list) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(":".join(str(f) for f in fields) + "\n")


def free_id(path: str, column: int) -> int:
    taken = {int(row[column]) for row in table(path)}
    return next(i for i in range(999, 100, -1) if i not in taken)


def options(args: list[str], flags: dict[str, str], valued: dict[str, str]) -> tuple[dict, str]:
    found, i = {}, 0
    while i < len(args) - 1:
        arg = args[i]
        if arg in valued:
            found[valued[arg]] = args[i + 1]
            i += 2
        elif arg in flags:
            found[flags[arg]] = True
            i += 1
        else:
            raise SystemExit(record(Path(sys.argv[1]).name, 2, args))
    return found, args[-1]


def group_id(name: str) -> int | None:
    return next((int(row[2]) for row in table("/etc/group") if row[0] == name), None)


def useradd(args: list[str]) -> int:
    opts, name = options(args, {"-r": "system", "--system": "system", "-M": "no_home",
                                "--no-create-home": "no_home", "-N": "no_group",
                                "--no-user-group": "no_group"},
                         {"-g": "gid", "--gid": "gid", "-s": "shell", "--shell": "shell",
                          "-d": "home", "--home-dir": "home", "-c": "comment",
                          "--comment": "comment"})
    if any(row[0] == name for row in table("/etc/passwd")):
        print(f"useradd: user '{name}' already exists", file=sys.stderr)
        return 9
    uid = free_id("/etc/passwd", 2)
    if "gid" in opts:
        gid = group_id(opts["gid"])
        if gid is None:
            print(f"useradd: group '{opts['gid']}' does not exist", file=sys.stderr)
            return 6
    elif opts.get("no_group"):
        gid = 100
    else:
        gid = free_id("/etc/group", 2)
        append("/etc/group", [name, "x", gid, ""])
    append("/etc/passwd", [name, "x", uid, gid, opts.get("comment", ""),
                           opts.get("home", f"/home/{name}"), opts.get("shell", DEFAULT_SHELL)])
    return 0


def groupadd(args: list[str]) -> int:
    opts, name = options(args, {"-r": "system", "--system": "system"}, {})
    if group_id(name) is not None:
        print(f"groupadd: group '{name}' already exists", file=sys.stderr)
        return 9
    append("/etc/group", [name, "x", free_id("/etc/group", 2), ""])
    return 0


def usermod(args: list[str]) -> int:
    opts, name = options(args, {"-L": "lock", "--lock": "lock"}, {"-g": "gid", "--gid": "gid"})
    rows = table("/etc/passwd")
    if not any(row[0] == name for row in rows):
        print(f"usermod: user '{name}' does not exist", file=sys.stderr)
        return 6
    if "gid" in opts:
        gid = group_id(opts["gid"])
        if gid is None:
            print(f"usermod: group '{opts['gid']}' does not exist", file=sys.stderr)
            return 6
        rows = [row[:3] + [str(gid)] + row[4:] if row[0] == name else row for row in rows]
        Path("/etc/passwd").write_text("".join(":".join(row) + "\n" for row in rows))
    return 0


def own(path: Path) -> None:
    """rpm's %attr(0755, user, user): a missing user or group falls back to root."""
    users = {row[0]: int(row[2]) for row in table("/etc/passwd")}
    os.chown(path, users.get(KUSER, 0), group_id(KUSER) or 0)
    path.chmod(0o755)


def install_kinesis_agent() -> None:
    subprocess.run(["useradd", "-c", "Streaming Data Agent", "-s", "/sbin/nologin", "-r", "-N",
                    "-d", "/usr/share/aws-kinesis-agent", KUSER], stderr=subprocess.DEVNULL)
    config = Path("/etc/aws-kinesis/agent.json")
    if not config.exists():
        config.write_text(json.dumps(STOCK_CONFIG, indent=2))
    init = Path("/etc/rc.d/init.d/aws-kinesis-agent")
    init.write_text(INIT_SCRIPT)
    init.chmod(0o755)
    for directory in ("/var/log/aws-kinesis-agent", "/var/run/aws-kinesis-agent"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        own(Path(directory))
    record("chkconfig", 0, ["--add", "aws-kinesis-agent"])


def dnf(args: list[str]) -> int:
    if args[:1] != ["install"]:
        return 1
    for package in (a for a in args[1:] if not a.startswith("-")):
        if package == "aws-kinesis-agent":
            install_kinesis_agent()
        elif package not in ("python3.11", "python3.11-pip", "unzip"):
            print(f"Error: Unable to find a match: {package}", file=sys.stderr)
            return 1
    return 0


def pip(args: list[str]) -> int:
    """`pip install NAME...`: link each distribution and what it requires from this machine's
    venv into the host's python environment."""
    site = os.environ["STUB_SITE"]
    sys.path.insert(0, site)
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    if args[:1] != ["install"]:
        return 1
    target = next(Path(os.environ["STUB_HOST_PY"]).glob("lib/python*/site-packages"))
    wanted = [a for a in args[1:] if not a.startswith("-")]
    done: set[str] = set()
    while wanted:
        name = canonicalize_name(Requirement(wanted.pop()).name)
        if name in done:
            continue
        done.add(name)
        dist = next(iter(metadata.distributions(name=name, path=[site])), None)
        if dist is None:
            print(f"ERROR: No matching distribution found for {name}", file=sys.stderr)
            return 1
        for requirement in map(Requirement, dist.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops - {"__pycache__"}:
            link = target / top
            if not link.exists():
                link.symlink_to(Path(site) / top)
    return 0


TOOLS = {"useradd": useradd, "groupadd": groupadd, "usermod": usermod, "dnf": dnf,
         "systemctl": lambda args: 0, "pip": pip}


if __name__ == "__main__":
    tool, arguments = Path(sys.argv[1]).name, sys.argv[2:]
    sys.exit(record(tool, TOOLS[tool](arguments), arguments))

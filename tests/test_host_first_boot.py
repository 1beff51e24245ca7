"""The EC2 host's first boot, executed (issue 13): `up --target aws` against the emulator, then
the user data that `up` gave the instance runs as root in a bubblewrap sandbox (see
helpers/host_sandbox.py for what is real and what is a stub), with the host role's credentials from
STS AssumeRole and every AWS call going through a recording forwarder to the emulator.

orderhist's agent: the unit's ExecStart is started as the unit says (no User=: root), lines
are written by the host's `orderhist` wrapper exactly as `generate` has SSM run them, and the
local runtime (standing for Lambda's event source mapping) carries them into the table.
The Kinesis Agent: run up to the start of the service (the Java agent is not here); the
package's user, group and directories are checked, and its user can read the logs and keep
checkpoints."""
from __future__ import annotations

import base64
import configparser
import fnmatch
import json
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from functools import partial
from urllib.parse import unquote

import pytest

from helpers import cli
from helpers.host_sandbox import HostSandbox, bwrap_problem, host_aws_environment
from helpers.request_log_proxy import RecordingProxy
from orderhist import aws, hostsetup, records, remote

pytestmark = pytest.mark.slow
KUSER = "aws-kinesis-agent-user"


run_cli = partial(cli.run_cli, aws_env="dummies", timeout=300)


@pytest.fixture
def booted(request, local_target, tmp_path):
    """A stack on the emulator and its host's first boot, for the agent asked for."""
    problem = bwrap_problem()
    if problem:
        pytest.skip(problem)
    agent, prefix = request.param, "t" + uuid.uuid4().hex[:8]
    home, endpoint = tmp_path / "home", local_target.endpoint_url
    started = time.monotonic()
    try:
        made = run_cli(home, "up", "--target", "aws", "--endpoint-url", endpoint, "--prefix",
                       prefix, "--agent", agent)
        assert made.returncode == 0, made.stderr
        state = json.loads((home / "state.json").read_text())
        resources = state["resources"]
        ec2 = aws.client("ec2", local_target)
        script = base64.b64decode(ec2.describe_instance_attribute(
            InstanceId=resources["instance"]["id"], Attribute="userData")["UserData"]["Value"])
        role = aws.client("iam", local_target).get_role(RoleName=resources["host_role"]["id"])
        credentials = aws.client("sts", local_target).assume_role(
            RoleArn=role["Role"]["Arn"], RoleSessionName="i-host")["Credentials"]
        sandbox = HostSandbox(tmp_path / "host")
        sandbox.path("/run/user-data").write_bytes(script)
        with RecordingProxy(endpoint) as proxy:
            env = host_aws_environment(credentials, proxy.url)
            boot = sandbox.run(["bash", "/run/user-data"], env)
            assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr[-3000:]
            yield {"sandbox": sandbox, "env": env, "proxy": proxy, "state": state,
                   "resources": resources, "home": home, "started": started}
    finally:
        run_cli(home, "down", "--yes")


def s3_calls(proxy) -> list:
    return [r for r in proxy.requests if r.service == "s3"]


def owner_of(request) -> str | None:
    return request.headers.get("x-amz-expected-bucket-owner")


def host_actions(requests, stream_arn: str) -> set[tuple[str, str]]:
    """(IAM action, resource ARN) of each call the host made, read off the wire."""
    found = set()
    for request in requests:
        if request.service == "s3":
            verb = {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject"}[request.method]
            found.add((f"s3:{verb}", "arn:aws:s3:::" + unquote(request.path.lstrip("/"))))
        elif request.service == "kinesis":
            found.add(("kinesis:" + request.headers["x-amz-target"].split(".")[-1], stream_arn))
        elif request.service == "sts":
            found.add(("sts:" + request.form()["Action"][0], "*"))
        else:
            found.add((f"{request.service}:?", request.path))
    return found


def allowed(document: dict, action: str, resource: str) -> bool:
    if action == "sts:GetCallerIdentity":
        return True  # AWS answers it for any identity, whatever its policies
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) \
            else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) \
            else [statement["Resource"]]
        if statement["Effect"] == "Allow" and action in actions and \
                any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources):
            return True
    return False


def host_policy(target, role: str) -> dict:
    iam = aws.client("iam", target)
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return json.loads(unquote(document)) if isinstance(document, str) else document


def unit_of(path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read(path)
    return unit


@pytest.mark.parametrize("booted", [hostsetup.ORDERHIST_AGENT], indirect=True)
def test_first_boot_with_orderhists_agent_ships_the_wrappers_lines_to_the_table(
        booted, local_target, tmp_path):
    sandbox, env, proxy = booted["sandbox"], booted["env"], booted["proxy"]
    resources, account = booted["resources"], booted["state"]["account"]
    calls = sandbox.calls()
    assert ["dnf", "0", "install", "-y", "python3.11", "python3.11-pip", "unzip"] in calls
    assert ["pip", "0", "install", "--quiet", "boto3", "click", "rich"] in calls
    assert [c[2:] for c in calls if c[0] == "systemctl"] == [
        ["daemon-reload"], ["enable", "--now", "orderhist-agent"]]
    assert oct(sandbox.path("/etc/orderhist-agent.json").stat().st_mode & 0o777) == "0o600"
    # Item 3, host side: every artifact read insisted on this account's bucket.
    reads = s3_calls(proxy)
    assert {c.path.split("/", 2)[-1] for c in reads} == {
        hostsetup.CODE_KEY, hostsetup.DATASET_KEY, hostsetup.AGENT_CONFIG_KEY}
    assert all(r.method == "GET" and owner_of(r) == account for r in reads), reads

    unit_path = sandbox.path("/etc/systemd/system/orderhist-agent.service")
    unit = unit_of(unit_path)
    if shutil.which("systemd-analyze"):
        # Inside the sandbox, where ExecStart's /usr/local/bin/orderhist exists.
        verified = sandbox.run(["systemd-analyze", "verify", "--man=no",
                                "/etc/systemd/system/orderhist-agent.service"], {})
        assert verified.returncode == 0, verified.stderr
    assert "User" not in unit["Service"]  # the unit runs its agent as root
    agent = sandbox.popen(shlex.split(unit["Service"]["ExecStart"]), env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    runtime = subprocess.Popen(
        [sys.executable, "-m", "orderhist", "--home", str(tmp_path / "runtime-home"), "runtime",
         "run", "--endpoint-url", local_target.endpoint_url, "--region", local_target.region],
        env=aws.local_child_environment(local_target.region),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # What `generate` has SSM run on the host, as root.
        report_key = f"runs/{uuid.uuid4().hex}.log"
        line = remote.host_command(25, True, None, resources["bucket"]["id"], report_key,
                                   local_target.region, account)
        generated = sandbox.run(["bash", "-c", line], env)
        assert generated.returncode == 0, generated.stdout + generated.stderr
        upload = [c for c in s3_calls(proxy) if c.method == "PUT"]
        assert [(r.path.endswith(report_key), owner_of(r)) for r in upload] == \
            [(True, account)]
        report = aws.client("s3", local_target).get_object(
            Bucket=resources["bucket"]["id"], Key=report_key)["Body"].read().decode()
        lines = [records.parse_log_line(text) for text in report.splitlines()]
        assert len(lines) == 25
        table = aws.client("dynamodb", local_target)
        deadline, missing = time.monotonic() + 90, lines
        while missing and time.monotonic() < deadline and agent.poll() is None:
            missing = [ln for ln in missing if "Item" not in table.get_item(
                TableName=resources["table"]["id"], Key=ln.key())]
            time.sleep(0.5)
        assert agent.poll() is None, agent.stderr.read()
        assert not missing, f"{len(missing)} of 25 lines never reached the table"
        # The emulator does not enforce IAM: each call the host made is checked against the
        # host role's policy here instead.
        made = host_actions(proxy.requests, resources["stream"]["arn"])
        assert ("kinesis:PutRecords", resources["stream"]["arn"]) in made
        document = host_policy(local_target, resources["host_role"]["id"])
        assert [call for call in sorted(made) if not allowed(document, *call)] == []
    finally:
        for process in (agent, runtime):
            process.terminate()
            process.wait(timeout=30)
    print(f"first boot to lines in the table: {time.monotonic() - booted['started']:.1f} s")


@pytest.mark.parametrize("booted", [hostsetup.KINESIS_AGENT], indirect=True)
def test_first_boot_with_the_kinesis_agent_installs_then_adds_the_group_then_starts(
        booted, local_target):
    sandbox, env = booted["sandbox"], booted["env"]
    calls = sandbox.calls()
    order = [(c[0], c[1], c[2]) for c in calls
             if c[0] in ("dnf", "useradd", "groupadd", "usermod", "systemctl")]
    # Item 9: the package first, its own useradd succeeding (a call is logged when it ends,
    # so the package's useradd comes before its dnf), then the group, then the start.
    assert order == [
        ("dnf", "0", "install"),  # python3.11 python3.11-pip unzip
        ("useradd", "0", "-c"), ("dnf", "0", "install"),  # aws-kinesis-agent and its %pre
        ("groupadd", "0", "--system"), ("usermod", "0", "--gid"),
        ("systemctl", "0", "enable"), ("systemctl", "0", "restart")]
    passwd = {row.split(":")[0]: row.split(":")
              for row in sandbox.path("/etc/passwd").read_text().splitlines()}
    group = {row.split(":")[0]: row.split(":")
             for row in sandbox.path("/etc/group").read_text().splitlines()}
    user = passwd[KUSER]
    assert user[3] == group[KUSER][2]  # its primary group is its own
    assert user[5:] == ["/usr/share/aws-kinesis-agent", "/sbin/nologin"]  # as the package made it
    for directory in ("/var/log/aws-kinesis-agent", "/run/aws-kinesis-agent",
                      "/var/lib/aws-kinesis-agent"):
        found = sandbox.path(directory).stat()
        assert (found.st_uid, found.st_gid) == (int(user[2]), int(user[3])), directory
    installed = json.loads(sandbox.path("/etc/aws-kinesis/agent.json").read_text())
    assert installed["flows"][0]["kinesisStream"] == booted["resources"]["stream"]["id"]
    # What systemd would start at the next boot: /run is empty again and the init script
    # makes its state directory with -o/-g, the line that failed on AL2023 (#269).
    shutil.rmtree(sandbox.path("/run/aws-kinesis-agent"))
    started = sandbox.run(["/etc/rc.d/init.d/aws-kinesis-agent", "start"], {})
    assert started.returncode == 0, started.stderr
    # The agent's user reads what the generator (root, through SSM) writes, and keeps its
    # checkpoints where agent.json says.
    wrote = sandbox.run(["/usr/local/bin/orderhist", "host-generate", "--count", "5",
                         "--report", "/tmp/report.log"], env)
    assert wrote.returncode == 0, wrote.stderr
    as_agent = ["setpriv", f"--reuid={KUSER}", f"--regid={KUSER}", "--init-groups", "--"]
    read = sandbox.run(as_agent + ["bash", "-c", "cat /var/log/orders/*.log | wc -l && "
                                   f"touch {installed['checkpointFile']}"], {})
    assert read.returncode == 0 and read.stdout.split() == ["5"], read.stderr

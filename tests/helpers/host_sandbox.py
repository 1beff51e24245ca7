"""A stand-in for the EC2 host's first boot: the user-data script runs as root under bubblewrap,
with /usr/local, /opt, /etc, /var/lib, /var/log, /tmp and /run private to the sandbox (each a
directory of the test, so the test can look at what the script left), the rest of this machine
read-only, and the network namespace shared (only the emulator on 127.0.0.1 is called).

Real: bash, coreutils, unzip, getent/id, the AWS CLI (PyPI's awscli, v1, where AL2023 has v2),
this machine's python 3.11 standing for AL2023's python3.11.
Stubs, for what cannot run here, each writing its arguments to calls.log:
- dnf: python3.11/python3.11-pip/unzip are "installed" already; aws-kinesis-agent is a
  stand-in package (see stub_tools.py) whose %pre makes its user without a group, as
  awslabs/amazon-kinesis-agent#269 reports from AL2023;
- systemctl: records, starts nothing (the test starts the unit's ExecStart itself);
- useradd/groupadd/usermod: edit the sandbox's own /etc/passwd and /etc/group;
- python3.11 -m pip install: links the named distributions (and what they require) from
  this machine's venv into the host's otherwise empty python environment, so the host's code
  sees only what the user data installs.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STUBS = ("dnf", "systemctl", "useradd", "groupadd", "usermod")
# Inside the sandbox.
STUB_DIR = "/run/stubs"
HOST_PY = "/run/hostpy"
PRIVATE = ("usr/local", "opt", "etc", "var/lib", "var/log", "tmp", "run")
PATH = f"{STUB_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def aws_cli() -> Path | None:
    """The AWS CLI of the test extras, beside this interpreter (not a shell's other `aws`)."""
    found = Path(sys.executable).parent / "aws"
    return found if found.exists() else None


class HostSandbox:
    def __init__(self, root: Path):
        self.root = root  # root/<private dir> is that directory inside the sandbox
        self.stubs = root / "run" / "stubs"
        for name in PRIVATE:
            (root / name).mkdir(parents=True, exist_ok=True)
        for name in ("bin", "sbin", "lib", "share"):  # as an AL2023 image has them
            (root / "usr" / "local" / name).mkdir()
        # A private copy of /etc: the stub useradd writes its passwd and group.
        shutil.rmtree(root / "etc")
        shutil.copytree("/etc", root / "etc", symlinks=True,
                        ignore=shutil.ignore_patterns("shadow*", "gshadow*", "ssh"))
        for name in ("systemd/system", "rc.d/init.d", "aws-kinesis"):
            (root / "etc" / name).mkdir(parents=True, exist_ok=True)
        (root / "run" / "home").mkdir()
        self._make_host_python()
        self._make_stubs()

    def _make_host_python(self) -> None:
        # No pip, no site-packages of this machine: the stub pip links in what is asked for.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                        str(self.root / "run" / "hostpy")], check=True)

    def _make_stubs(self) -> None:
        bin_dir = self.stubs / "bin"
        bin_dir.mkdir(parents=True)
        shutil.copy(HERE / "stub_tools.py", self.stubs / "stub_tools.py")
        runner = f"#!/bin/sh\nexec {sys.executable} -S {STUB_DIR}/stub_tools.py \"$0\" \"$@\"\n"
        for name in STUBS:
            (bin_dir / name).write_text(runner)
            (bin_dir / name).chmod(0o755)
        (bin_dir / "python3.11").write_text(
            "#!/bin/bash\n"
            "# AL2023's python3.11: this machine's, in an environment of its own.\n"
            'if [ "${1:-}" = -m ] && [ "${2:-}" = pip ]; then\n'
            f'  exec {sys.executable} -S {STUB_DIR}/stub_tools.py pip "${{@:3}}"\n'
            "fi\n"
            f'exec {HOST_PY}/bin/python "$@"\n')
        (bin_dir / "python3.11").chmod(0o755)
        cli = aws_cli()
        if cli is not None:  # the real CLI, not a stub
            (bin_dir / "aws").symlink_to(cli)
        (self.stubs / "calls.log").touch()

    def calls(self) -> list[list[str]]:
        """Every stubbed call so far: [tool, exit status, arguments...]."""
        return [shlex.split(line) for line in
                (self.stubs / "calls.log").read_text().splitlines()]

    def command(self, argv: list[str], env: dict[str, str]) -> list[str]:
        """bwrap's command line running argv as root inside the sandbox."""
        args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--hostname", "ip-10-0-0-1"]
        for name in PRIVATE:
            args += ["--bind", str(self.root / name), "/" + name]
        args += ["--chdir", "/", "--clearenv"]
        for key, value in {"PATH": PATH, "HOME": "/run/home", "LANG": "C.UTF-8",
                           "STUB_ROOT": STUB_DIR, "STUB_HOST_PY": HOST_PY,
                           "STUB_SITE": _site_packages(), **env}.items():
            args += ["--setenv", key, value]
        return args + ["--", *argv]

    def run(self, argv: list[str], env: dict[str, str], timeout: float = 300,
            **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv, env), capture_output=True, text=True,
                              timeout=timeout, **kwargs)

    def popen(self, argv: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(argv, env), **kwargs)

    def path(self, inside: str) -> Path:
        """Where a path of the sandbox is on this machine (only in the private directories)."""
        return self.root / inside.lstrip("/")


def _site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def host_aws_environment(credentials: dict, endpoint: str) -> dict[str, str]:
    """What the instance role and AWS's endpoints give the host, from the emulator: the role's
    STS credentials (IMDS on EC2) and its endpoint. No region: the scripts must name theirs."""
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def bwrap_problem() -> str | None:
    """Why the sandbox cannot run here, or None."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (.ci/run installs Debian's package)"
    if aws_cli() is None:
        return "the AWS CLI is not installed (pip install -e '.[test]')"
    if os.geteuid() != 0:
        return "the host's set-up runs as root; the sandbox needs root to be faithful"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bubblewrap cannot make a sandbox here: {probe.stderr.strip()}"
    return None

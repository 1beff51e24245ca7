"""What the EC2 host is given on AWS: the artifacts (orderhist's own code, the dataset, the
agent config) and the user-data script that installs them and starts an agent.

The host's instance role signs every call, so nothing here holds a credential.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from orderhist.errors import UsageProblem
from orderhist.schema import CUSTOMER_ID, LOG_COLUMNS

PACKAGE_ROOT = Path(__file__).resolve().parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
HOST_HOME = "/var/lib/orderhist"
HOST_LOG_DIR = "/var/log/orders"
HOST_CODE_DIR = "/opt/orderhist"
HOST_PYTHON = "python3.11"
KINESIS_AGENT, ORDERHIST_AGENT = "kinesis-agent", "orderhist"
AGENTS = (KINESIS_AGENT, ORDERHIST_AGENT)
# Artifact keys, all under the prefix the host role may read.
CODE_KEY = "host/orderhist.zip"
DATASET_KEY = "host/OnlineRetail.csv"
AGENT_CONFIG_KEY = "host/agent.json"


def code_bundle() -> bytes:
    """orderhist's own modules as a reproducible zip (the host runs the generator and, when
    chosen, the agent from it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(PACKAGE_ROOT.rglob("*.py")):
            name = "orderhist/" + path.relative_to(PACKAGE_ROOT).as_posix()
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def agent_config(agent: str, *, stream: str, region: str) -> dict:
    """agent.json for the host. The Java Kinesis Agent ships raw lines: its CSVTOJSON splits
    on every comma, quoted or not, and the Lambda parses RFC 4180 lines itself."""
    flow = {
        "filePattern": f"{HOST_LOG_DIR}/*.log",
        "kinesisStream": stream,
        "initialPosition": "START_OF_FILE",
        # The Java agent's floor; its publisher also waits on an empty queue, so trickles
        # are helped by flushing on every record batch of modest size.
        "maxBufferAgeMillis": 1000,
        "maxBufferSizeRecords": 500,
    }
    config = {"cloudwatch.emitMetrics": False, "flows": [flow]}
    if agent == KINESIS_AGENT:
        # The Java agent's SDK v1 client talks to us-east-1 unless given an endpoint.
        config["kinesis.endpoint"] = f"https://kinesis.{region}.amazonaws.com"
        flow["partitionKeyOption"] = "RANDOM"
        # Under /var/run the checkpoints vanish at reboot and everything is sent again.
        config["checkpointFile"] = "/var/lib/aws-kinesis-agent/checkpoints"
    else:
        flow["partitionKeyOption"] = CUSTOMER_ID
        flow["maxBufferAgeMillis"] = 100
        flow["dataProcessingOptions"] = [{
            "optionName": "CSVTOJSON", "delimiter": ",",
            "customFieldNames": list(LOG_COLUMNS)}]
        # The region alone: boto3 then finds the regional endpoint (or AWS_ENDPOINT_URL).
        config["kinesis.region"] = region
        config["checkpointFile"] = f"{HOST_HOME}/agent/checkpoints.json"
    return config


def user_data(agent: str, *, bucket: str, region: str) -> str:
    """The first-boot script (cloud-init runs it as root). Idempotent, fails loudly."""
    if agent not in AGENTS:
        raise UsageProblem(f"unknown agent {agent!r}")
    common = f"""#!/bin/bash
# orderhist host set-up: the generator, and the agent that ships its logs to Kinesis.
# No credentials here: the instance role signs every AWS call.
set -euo pipefail
exec > >(tee -a /var/log/orderhist-setup.log) 2>&1

BUCKET="{bucket}"
REGION="{region}"
# The bucket's name can be guessed: code from it runs as root here, so every read insists
# that the bucket belongs to this instance's own account.
ACCOUNT="$(aws sts get-caller-identity --region "$REGION" --query Account --output text)"
fetch() {{
  aws s3api get-object --region "$REGION" --bucket "$BUCKET" --key "$1" \\
    --expected-bucket-owner "$ACCOUNT" "$2" >/dev/null
}}
dnf install -y {HOST_PYTHON} {HOST_PYTHON}-pip unzip
{HOST_PYTHON} -m pip install --quiet boto3 click rich

install -d -m 0755 "{HOST_CODE_DIR}" "{HOST_LOG_DIR}"
install -d -m 0700 "{HOST_HOME}"
fetch "{CODE_KEY}" /tmp/orderhist.zip
unzip -o -q /tmp/orderhist.zip -d "{HOST_CODE_DIR}"
install -d -m 0755 "{HOST_CODE_DIR}/orderhist/data"
fetch "{DATASET_KEY}" "{HOST_CODE_DIR}/orderhist/data/OnlineRetail.csv"
fetch "{AGENT_CONFIG_KEY}" /tmp/agent.json

cat > /usr/local/bin/orderhist <<'WRAPPER'
#!/bin/bash
export PYTHONPATH={HOST_CODE_DIR}
exec {HOST_PYTHON} -m orderhist --home {HOST_HOME} "$@"
WRAPPER
chmod 0755 /usr/local/bin/orderhist
"""
    if agent == KINESIS_AGENT:
        return common + KINESIS_AGENT_SETUP
    return common + f"""
install -m 0600 /tmp/agent.json /etc/orderhist-agent.json
cat > /etc/systemd/system/orderhist-agent.service <<'UNIT'
[Unit]
Description=orderhist agent: ships {HOST_LOG_DIR} to Kinesis
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/orderhist agent run --config /etc/orderhist-agent.json
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now orderhist-agent
"""


# The package first: its %pre makes aws-kinesis-agent-user as it wants it (no login shell,
# its own home) and a user made earlier would make that useradd fail. On AL2023 the user
# then lacks its group (awslabs/amazon-kinesis-agent#269), and the init script's
# `install -o aws-kinesis-agent-user -g aws-kinesis-agent-user` stops the service: add the
# group, make it the user's, own the package's directories by it, and only then start.
KINESIS_AGENT_SETUP = """
dnf install -y aws-kinesis-agent
getent group aws-kinesis-agent-user >/dev/null || groupadd --system aws-kinesis-agent-user
if id -u aws-kinesis-agent-user >/dev/null 2>&1; then
  usermod --gid aws-kinesis-agent-user aws-kinesis-agent-user
else  # the package's useradd failed: make the user as its %pre would have
  useradd --system --gid aws-kinesis-agent-user --shell /sbin/nologin \\
    --home-dir /usr/share/aws-kinesis-agent --comment "Streaming Data Agent" \\
    aws-kinesis-agent-user
fi
install -d -o aws-kinesis-agent-user -g aws-kinesis-agent-user -m 0755 \\
  /var/log/aws-kinesis-agent /var/run/aws-kinesis-agent
# Checkpoints here, not under /var/run (wiped at boot: everything would be sent again).
install -d -o aws-kinesis-agent-user -g aws-kinesis-agent-user -m 0750 \\
  /var/lib/aws-kinesis-agent
install -m 0644 /tmp/agent.json /etc/aws-kinesis/agent.json
systemctl enable aws-kinesis-agent
systemctl restart aws-kinesis-agent
"""


def artifacts(agent: str, *, stream: str, region: str, dataset: Path) -> dict[str, bytes]:
    """Every object the host needs, by key."""
    return {
        CODE_KEY: code_bundle(),
        DATASET_KEY: dataset.read_bytes(),
        AGENT_CONFIG_KEY: json.dumps(agent_config(agent, stream=stream, region=region),
                                     indent=2, sort_keys=True).encode(),
    }


def etag_of(data: bytes) -> str:
    """S3's ETag of a single-part upload: the MD5 in quotes."""
    return '"' + hashlib.md5(data).hexdigest() + '"'

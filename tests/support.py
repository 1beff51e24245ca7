"""Helpers the test modules share: running the real CLI as a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Whatever the user's shell holds must not matter to the local target: a profile that does
# not exist, keys that look real, and an endpoint override that leads nowhere.
MISLEADING_AWS = {
    "AWS_PROFILE": "orderhist-test-no-such-profile",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "not-a-token",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_REGION": "ap-southeast-2",
    "AWS_DEFAULT_REGION": "ap-southeast-2",
}


def orderhist(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, **MISLEADING_AWS}
    env.pop("ORDERHIST_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "orderhist", "--home", str(home), *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


# Scan arguments that leave out the refused records the handler keeps in the table.
ORDER_LINES_ONLY = {
    "FilterExpression": "NOT begins_with(CustomerID, :rejects)",
    "ExpressionAttributeValues": {":rejects": {"S": "REJECTS#"}},
}

"""The resources of the stack, one class each: how to find it, create it, bring it up to date, delete it.

A resource's `find` returns what the state file records of it (id/arn and the attributes
others need) or None; `ensure` makes reality match and returns (action, record); `delete`
treats a missing resource as deleted. Creation order and the state file live in `stack`;
the classes live in the modules of this package by service.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from orderhist import aws
from orderhist.aws import error_code

STACK_TAG = "orderhist:stack"
NOT_FOUND = {
    "ResourceNotFoundException", "NoSuchEntity", "NoSuchBucket", "404",
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "InvalidGroup.NotFound",
    "InvalidInstanceID.NotFound", "NotFound",
}
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass
class Names:
    prefix: str
    account: str
    region: str

    @property
    def stream(self) -> str:
        return f"{self.prefix}-orders"

    @property
    def table(self) -> str:
        return f"{self.prefix}-orders"

    @property
    def function(self) -> str:
        return f"{self.prefix}-ingest"

    @property
    def ingest_role(self) -> str:
        return f"{self.prefix}-ingest-role"

    @property
    def host_role(self) -> str:
        return f"{self.prefix}-host-role"

    @property
    def queue(self) -> str:
        return f"{self.prefix}-rejects"

    @property
    def bucket(self) -> str:
        return f"{self.prefix}-artifacts-{self.account}-{self.region}"

    @property
    def host(self) -> str:
        return f"{self.prefix}-host"

    @property
    def security_group(self) -> str:
        return f"{self.prefix}-host-sg"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


@dataclass
class Settings:
    shards: int = 1
    on_demand: bool = False
    batch_size: int = 100
    max_retry_attempts: int = 10
    function_timeout: int = 60
    instance_type: str = "t4g.small"
    agent: str = "orderhist"  # or "kinesis-agent": what the EC2 host runs
    pitr: bool = False


class StackContext:
    """What every resource needs: the target, the names, the settings, and clients made once."""

    def __init__(self, target: aws.Target, names: Names, settings: Settings):
        self.target = target
        self.names = names
        self.settings = settings
        self._clients: dict[str, object] = {}
        self.records: dict[str, dict] = {}  # what earlier resources in the plan produced

    def client(self, service: str):
        if service not in self._clients:
            # Provisioning may take long locally too (uploads, a backend's first call).
            self._clients[service] = aws.client(service, self.target, patient=True)
        return self._clients[service]

    def tags(self) -> dict[str, str]:
        return {STACK_TAG: self.names.prefix}


def missing(error: Exception) -> bool:
    return error_code(error) in NOT_FOUND or "not found" in str(error).lower() \
        or "does not exist" in str(error).lower()


def unless_missing(call, *args, **kwargs):
    """Call an AWS API; a resource that does not exist gives None instead of an error (a
    find that finds nothing, a delete of what is already gone)."""
    try:
        return call(*args, **kwargs)
    except Exception as error:  # botocore's ClientError, told apart by its code
        if not missing(error):
            raise
        return None


def retry_while_propagating(call, attempts: int = 12):
    """IAM is eventually consistent: a role just made may not yet be assumable."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as error:  # botocore's ClientError, checked by its text
            text = str(error)
            propagating = "cannot be assumed" in text or "Invalid IamInstanceProfile" in text \
                or ("role" in text.lower() and error_code(error) == "InvalidParameterValueException")
            if not propagating or attempt == attempts - 1:
                raise
            time.sleep(min(10.0, 0.5 * 2 ** attempt))


class Resource:
    name = ""  # key in the state file

    def find(self, ctx: StackContext) -> dict | None:
        raise NotImplementedError

    def ensure(self, ctx: StackContext) -> tuple[str, dict]:
        found = self.find(ctx)
        if found is None:
            return CREATED, self.create(ctx)
        return self.update(ctx, found)

    def create(self, ctx: StackContext) -> dict:
        raise NotImplementedError

    def update(self, ctx: StackContext, found: dict) -> tuple[str, dict]:
        return UNCHANGED, found

    def drift(self, ctx: StackContext, found: dict) -> list[str]:
        """What `update` would change, in words; empty when the resource is right."""
        return []

    def delete(self, ctx: StackContext, record: dict) -> None:
        raise NotImplementedError

    def find_strays(self, ctx: StackContext) -> list[dict]:
        """Every copy of this resource that exists, whether recorded or not."""
        try:
            found = self.find(ctx)
        except KeyError:  # needs another resource's record, which no longer exists
            return []
        return [found] if found else []

"""The resources of the stack, one class each: how to find it, create it, bring it up to date,
delete it.

A resource's `find` returns what the state file records of it (id/arn and the attributes
others need) or None; `ensure` makes reality match and returns (action, record); `delete`
treats a missing resource as deleted. Creation order and the state file live in `stack`;
the classes live in the modules of this package by service.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from orderhist import aws, aws_errors
from orderhist.errors import OrderhistError
from orderhist.stack_settings import Settings

STACK_TAG = "orderhist:stack"
# IAM is account-wide: the region tag tells two stacks of one prefix apart (see Names).
REGION_TAG = "orderhist:region"
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

    # IAM names are account-wide while everything else is regional, so the roles and the
    # instance profile carry the region: two stacks of one prefix in two regions never share
    # (or rewrite, or delete) each other's. The longest prefix (validate.PREFIX_MAX) and the
    # longest region keep these within IAM's 64 characters for a role name.
    @property
    def ingest_role(self) -> str:
        return f"{self.prefix}-{self.region}-ingest"

    @property
    def host_role(self) -> str:
        return f"{self.prefix}-{self.region}-host"

    @property
    def host_profile(self) -> str:
        return self.host_role

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


class NotRecorded(OrderhistError):
    """A resource needs another's record that the plan has not made or found (a dry run
    before the stack exists, a `status` or `down` after that resource was deleted)."""


class StackContext:
    """What every resource needs: the target, the names, the settings, and clients made once."""

    def __init__(self, target: aws.Target, names: Names, settings: Settings):
        self.target = target
        self.names = names
        self.settings = settings
        self._clients: dict[str, object] = {}
        self.records: dict[str, dict] = {}  # what earlier resources in the plan produced
        # Where a resource says what it is waiting for (stack.apply points it at the CLI's).
        self.progress: Callable[[str, str], None] = lambda name, what: None

    def record(self, name: str) -> dict:
        """What an earlier resource in the plan produced; NotRecorded if nothing yet."""
        found = self.records.get(name)
        if found is None:
            raise NotRecorded(f"the {name} is not recorded yet: run `orderhist up`")
        return found

    def client(self, service: str):
        if service not in self._clients:
            # Provisioning may take long locally too (uploads, a backend's first call).
            self._clients[service] = aws.client(service, self.target, patient=True)
        return self._clients[service]

    def tags(self) -> dict[str, str]:
        return {STACK_TAG: self.names.prefix, REGION_TAG: self.names.region}


def missing(error: Exception) -> bool:
    return aws_errors.is_missing(error)


def unless_missing(call, *args, **kwargs):
    """Call an AWS API; a resource that does not exist gives None instead of an error (a
    find that finds nothing, a delete of what is already gone)."""
    try:
        return call(*args, **kwargs)
    except Exception as error:  # botocore's ClientError, told apart by its code
        if not missing(error):
            raise
        return None


def retry_while_propagating(call, timeout: float = 150.0, first_pause: float = 0.5,
                            max_pause: float = 8.0, ctx: StackContext | None = None,
                            resource: str = ""):
    """Call `call` until the service it calls sees the role or instance profile just made.

    IAM is eventually consistent: for seconds (rarely minutes) after CreateRole,
    PutRolePolicy or AddRoleToInstanceProfile, Lambda and EC2 refuse them with errors that
    `aws_errors` knows as PROPAGATING. Anything else is raised at once, and so is the last
    refusal when `timeout` (terraform's IAM propagation bound is 2 minutes) runs out. With a
    `ctx`, each pause is told through its progress: what waits, how long so far, and why."""
    started = time.monotonic()
    deadline = started + timeout
    pause = first_pause
    while True:
        try:
            return call()
        except Exception as error:  # botocore's ClientError, told apart by aws_errors
            if not aws_errors.is_propagating(error) or time.monotonic() + pause > deadline:
                raise
            if ctx is not None:
                ctx.progress(resource, f"waiting {time.monotonic() - started:.0f} s: the new "
                                       "IAM role is not yet seen by the service (propagation)")
            time.sleep(pause)
            pause = min(max_pause, pause * 2)


def create_when_name_free(ctx: StackContext, resource: str, create, why: str,
                          timeout: float):
    """Call `create` until the name it asks for is free again. Right after a delete AWS keeps
    a queue's name for 60 s (QueueDeletedRecently) and refuses a stream's or a table's while
    the old one is still DELETING (ResourceInUseException): `up` right after `down` waits,
    saying what for and how long, and gives up with a clear line after `timeout`."""
    started = time.monotonic()
    pause = 1.0
    while True:
        try:
            return create()
        except Exception as error:  # botocore's ClientError, told apart by aws_errors
            busy = aws_errors.kind(error) in (aws_errors.COOLING_DOWN, aws_errors.IN_USE)
            waited = time.monotonic() - started
            if not busy:
                raise
            if waited + pause > timeout:
                raise OrderhistError(f"the {resource} name is still taken after {waited:.0f} s "
                                     f"({why}): run `orderhist up` again in a minute") from None
            ctx.progress(resource, f"waiting {waited:.0f} s: {why}")
            time.sleep(pause)
            pause = min(5.0, pause * 1.5)


def wait_until(ctx: StackContext, resource: str, done, why: str, timeout: float,
               pause: float = 2.0) -> None:
    """Poll `done()` until it is true, telling ctx.progress what waits and for how long (an
    instance starting or terminating); an OrderhistError after `timeout`."""
    started = time.monotonic()
    while not done():
        waited = time.monotonic() - started
        if waited + pause > timeout:
            raise OrderhistError(f"the {resource} is still not ready after {waited:.0f} s "
                                 f"({why}): run the command again in a minute")
        ctx.progress(resource, f"waiting {waited:.0f} s: {why}")
        time.sleep(pause)


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
        except NotRecorded:  # needs another resource's record, which no longer exists
            return []
        return [found] if found else []

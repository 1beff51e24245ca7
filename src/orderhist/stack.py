"""The stack as a plan: what should exist, in dependency order; an executor that makes it so
and records each resource in the state file the moment it exists; deletion as a sweep over
that record in reverse order, where missing counts as deleted."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orderhist import policies
from orderhist.resources import StackContext
from orderhist.resources.artifacts import Artifacts
from orderhist.resources.data import Bucket, Queue, Stream, Table
from orderhist.resources.host import Instance, SecurityGroup
from orderhist.resources.iam import InstanceProfile, Role
from orderhist.resources.lambda_ import Function, Mapping
from orderhist.state import StackState

ARTIFACTS_PREFIX = "host"
REPORTS_PREFIX = "runs"


def _ingest_policy(ctx: StackContext) -> str:
    names = ctx.names
    return policies.ingest_policy(
        stream_arn=ctx.records["stream"]["arn"],
        table_arn=ctx.records["table"]["arn"],
        queue_arn=ctx.records["queue"]["arn"],
        log_group_arn=names.arn("logs", f"log-group:/aws/lambda/{names.function}"),
    )


def _host_policy(ctx: StackContext) -> str:
    return policies.host_policy(
        stream_arn=ctx.records["stream"]["arn"],
        bucket_arn=ctx.records["bucket"]["arn"],
        artifacts_prefix=ARTIFACTS_PREFIX,
        reports_prefix=REPORTS_PREFIX,
    )


def plan() -> list:
    """Every resource, each after those it refers to."""
    return [
        Bucket(),
        Artifacts(),
        Stream(),
        Table(),
        Queue(),
        Role("ingest_role", lambda n: n.ingest_role, "lambda.amazonaws.com", _ingest_policy),
        Role("host_role", lambda n: n.host_role, "ec2.amazonaws.com", _host_policy),
        InstanceProfile(),
        Function(),
        Mapping(),
        SecurityGroup(),
        Instance(),
    ]


@dataclass
class Step:
    resource: str
    action: str  # created, updated, unchanged; or would-create ... on a dry run
    id: str


def apply(ctx: StackContext, state: StackState,
          progress: Callable[[str, str], None] = lambda name, what: None) -> list[Step]:
    """Create what is missing, update what drifted; record each resource as it is made."""
    steps = []
    for resource in plan():
        progress(resource.name, "checking")
        action, record = resource.ensure(ctx)
        ctx.records[resource.name] = record
        state.record(resource.name, **record)
        steps.append(Step(resource.name, action, record.get("arn") or record.get("id", "")))
        progress(resource.name, action)
    return steps


def dry_run(ctx: StackContext) -> list[Step]:
    """What `apply` would do, touching nothing. A resource that depends on one still to be
    made cannot be inspected further; it is listed as to be created."""
    steps = []
    for resource in plan():
        try:
            found = resource.find(ctx)
        except KeyError:  # refers to a record that does not exist yet
            found = None
        if found is None:
            steps.append(Step(resource.name, "would create", ""))
            ctx.records[resource.name] = {"id": f"<{resource.name}>", "arn": f"<{resource.name}>"}
        else:
            ctx.records[resource.name] = found
            changes = resource.drift(ctx, found)
            action = f"would update ({', '.join(changes)})" if changes else "unchanged"
            steps.append(Step(resource.name, action, found.get("arn") or found.get("id", "")))
    return steps


def check(ctx: StackContext, state: StackState) -> dict[str, dict]:
    """Each planned resource: what the state file says and whether it exists now."""
    report = {}
    for resource in plan():
        record = state.resources.get(resource.name, {})
        try:
            found = resource.find(ctx)
        except KeyError:
            found = None
        if found:
            ctx.records[resource.name] = found
        report[resource.name] = {
            "id": (found or record).get("id"),
            "arn": (found or record).get("arn"),
            "exists": found is not None,
        }
    return report


def destroy(ctx: StackContext, state: StackState,
            progress: Callable[[str, str], None] = lambda name, what: None) -> list[str]:
    """Delete every recorded resource, last made first; forget each as it goes."""
    deleted = []
    by_name = {resource.name: resource for resource in plan()}
    for name in reversed([resource.name for resource in plan()]):
        record = state.resources.get(name)
        if record is None:
            continue
        progress(name, "deleting")
        by_name[name].delete(ctx, record)
        state.forget(name)
        deleted.append(name)
        progress(name, "deleted")
    return deleted


def sweep_strays(ctx: StackContext, progress: Callable[[str, str], None] = lambda n, w: None
                 ) -> list[str]:
    """Delete resources of the stack that no record names (an `up` that died before
    recording them): found by their deterministic names, instances by the stack tag."""
    deleted = []
    for resource in reversed(plan()):
        for record in resource.find_strays(ctx):
            progress(resource.name, "deleting")
            resource.delete(ctx, record)
            deleted.append(resource.name)
            progress(resource.name, "deleted")
    return deleted

"""The stack as a plan: what should exist, in dependency order; an executor that makes it so
and records each resource in the state file the moment it exists; deletion as a sweep over
that record in reverse order, where missing counts as deleted."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from orderhist import policies
from orderhist.resources import CREATED, UPDATED, NotRecorded, StackContext, machine
from orderhist.resources.artifacts import Artifacts, Bucket, BucketNotOurs
from orderhist.resources.data import Queue, Stream, Table
from orderhist.resources.host import Instance, SecurityGroup
from orderhist.resources.iam import InstanceProfile, Role
from orderhist.resources.lambda_ import Function, Mapping
from orderhist.resources.logs import LogGroup
from orderhist.state import StackState

ARTIFACTS_PREFIX = "host"
REPORTS_PREFIX = "runs"


def _ingest_policy(ctx: StackContext) -> str:
    names = ctx.names
    return policies.ingest_policy(
        stream_arn=ctx.record("stream")["arn"],
        table_arn=ctx.record("table")["arn"],
        queue_arn=ctx.record("queue")["arn"],
        log_group_arn=names.arn("logs", f"log-group:/aws/lambda/{names.function}"),
    )


def _host_policy(ctx: StackContext) -> str:
    return policies.host_policy(
        stream_arn=ctx.record("stream")["arn"],
        bucket_arn=ctx.record("bucket")["arn"],
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
        LogGroup(),  # before the function, which would make it without a retention
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


def preflight(ctx: StackContext) -> None:
    """What can be refused before anything is made: an instance type EC2 does not know
    (UsageProblem, exit 2). (A bucket name another account holds is refused by the first
    resource of the plan, before anything is made either.)"""
    machine.describe(ctx, ctx.settings.instance_type)


def apply(ctx: StackContext, state: StackState,
          progress: Callable[[str, str], None] = lambda name, what: None) -> list[Step]:
    """Create what is missing, update what drifted, replace what cannot be updated; record
    each resource as it is made (and forget it as it goes)."""
    ctx.progress = progress
    preflight(ctx)
    steps = []
    for resource in plan():
        progress(resource.name, "checking")
        if hasattr(resource, "replacement"):
            action, record, said = _ensure_replaceable(resource, ctx, state, progress)
        else:
            (action, record), said = resource.ensure(ctx), None
        ctx.records[resource.name] = record
        state.record(resource.name, **record)
        steps.append(Step(resource.name, action, record.get("arn") or record.get("id", "")))
        progress(resource.name, said or action)
    return steps


def _ensure_replaceable(resource, ctx: StackContext, state: StackState, progress
                        ) -> tuple[str, dict, str | None]:
    """ensure() for a resource that some changes replace (the host): the old one is deleted
    and forgotten, then the new one made and recorded by the caller."""
    found = resource.find(ctx)
    if found is None:
        return CREATED, resource.create(ctx), None
    reasons = resource.replacement(ctx, found)
    if reasons:
        progress(resource.name, "deleting")
        resource.delete(ctx, found)
        state.forget(resource.name)
        progress(resource.name, "checking")
        return UPDATED, resource.create(ctx), f"replaced ({', '.join(reasons)})"
    changes = resource.drift(ctx, found)
    action, record = resource.update(ctx, found)
    said = f"{getattr(resource, 'update_verb', 'updated')} ({', '.join(changes)})" \
        if changes else None
    return action, record, said


def dry_run(ctx: StackContext) -> list[Step]:
    """What `apply` would do, touching nothing. A resource that depends on one still to be
    made cannot be inspected further; it is listed as to be created."""
    preflight(ctx)
    steps = []
    for resource in plan():
        try:
            found = resource.find(ctx)
        except NotRecorded:  # refers to a record that does not exist yet
            found = None
        if found is None:
            steps.append(Step(resource.name, "would create", ""))
            ctx.records[resource.name] = {"id": f"<{resource.name}>", "arn": f"<{resource.name}>"}
        else:
            ctx.records[resource.name] = found
            steps.append(Step(resource.name, _would(resource, ctx, found),
                              found.get("arn") or found.get("id", "")))
    return steps


def _would(resource, ctx: StackContext, found: dict) -> str:
    """A dry run's words for an existing resource, e.g. "would replace instance (instance
    type t4g.small -> m7g.medium)" or "would re-run host set-up (code changed)"."""
    reasons = resource.replacement(ctx, found) if hasattr(resource, "replacement") else []
    if reasons:
        return f"would replace {getattr(resource, 'noun', resource.name)} ({', '.join(reasons)})"
    changes = resource.drift(ctx, found)
    if not changes:
        return "unchanged"
    return f"would {getattr(resource, 'update_verb', 'update')} ({', '.join(changes)})"


def check(ctx: StackContext, state: StackState) -> dict[str, dict]:
    """Each planned resource: what the state file says and whether it exists now."""
    report = {}
    for resource in plan():
        record = state.resources.get(resource.name, {})
        try:
            found = resource.find(ctx)
        except (NotRecorded, BucketNotOurs):  # the bucket of that name is not the stack's
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
    ctx.progress = progress  # a delete that waits (an instance terminating) says so
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

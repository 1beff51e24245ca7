"""The function's log group, `/aws/lambda/<function>`. Lambda would make it on the first
write, keep its logs forever and leave it behind at `down` (stored logs are billed monthly);
made here before the function, it has a retention and the stack's tags, and `down` deletes
it after the function."""
from __future__ import annotations

from orderhist import aws_errors
from orderhist.resources import UNCHANGED, UPDATED, Resource, unless_missing

RETENTION_DAYS = 14


def group_name(ctx) -> str:
    return f"/aws/lambda/{ctx.names.function}"


class LogGroup(Resource):
    name = "log_group"

    def find(self, ctx):
        name = group_name(ctx)
        groups = ctx.client("logs").describe_log_groups(
            logGroupNamePrefix=name)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == name), None)
        if group is None:
            return None
        arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
        return {"id": name, "arn": arn, "retention": group.get("retentionInDays")}

    def create(self, ctx):
        logs = ctx.client("logs")
        try:
            logs.create_log_group(logGroupName=group_name(ctx), tags=ctx.tags())
        except Exception as error:  # the function wrote first (a stack made before this)
            if aws_errors.kind(error) != aws_errors.ALREADY_EXISTS:
                raise
        self._retain(ctx)
        return _record(self.find(ctx))

    def drift(self, ctx, found):
        if found.get("retention") == RETENTION_DAYS:
            return []
        return [f"retention {found.get('retention') or 'forever'} -> {RETENTION_DAYS} days"]

    def update(self, ctx, found):
        if not self.drift(ctx, found):
            return UNCHANGED, _record(found)
        self._retain(ctx)
        return UPDATED, _record(found)

    @staticmethod
    def _retain(ctx) -> None:
        ctx.client("logs").put_retention_policy(logGroupName=group_name(ctx),
                                                retentionInDays=RETENTION_DAYS)

    def delete(self, ctx, record):
        unless_missing(ctx.client("logs").delete_log_group, logGroupName=record["id"])


def _record(found: dict) -> dict:
    return {"id": found["id"], "arn": found["arn"]}

"""The roles (each with one inline, least-privilege policy) and the host's instance profile.

IAM is account-wide, so the names carry the region (see Names); still, a role of that name
may have been made by hand or by another tool. So a role or profile is this stack's only when
it carries both tags, `orderhist:stack=<prefix>` and
`orderhist:region=<region>`: `find` adopts nothing else, `create` refuses to take its name
over, and `delete` leaves it alone.
"""
from __future__ import annotations

import json
from urllib.parse import unquote

from orderhist import aws_errors, policies
from orderhist.errors import OrderhistError
from orderhist.resources import REGION_TAG, STACK_TAG, UNCHANGED, UPDATED, Resource, missing

POLICY_NAME = "orderhist"


def _tag_list(ctx) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in ctx.tags().items()]


def _ours(ctx, tags: list[dict] | None) -> bool:
    found = {tag["Key"]: tag["Value"] for tag in tags or []}
    return found.get(STACK_TAG) == ctx.names.prefix and found.get(REGION_TAG) == ctx.names.region


def _ours_to_delete(ctx, name: str, tags: list[dict] | None) -> bool:
    """This stack's; or, recorded by this home under the name an orderhist before IAM names
    carried the region gave it (`<prefix>-ingest-role`, `<prefix>-host-role`, tagged with the
    stack only), so `down` still removes what an older `up` made."""
    if _ours(ctx, tags):
        return True
    found = {tag["Key"]: tag["Value"] for tag in tags or []}
    legacy = {f"{ctx.names.prefix}-ingest-role", f"{ctx.names.prefix}-host-role"}
    return name in legacy and found.get(STACK_TAG) == ctx.names.prefix \
        and REGION_TAG not in found


def _taken(kind: str, name: str, ctx) -> OrderhistError:
    return OrderhistError(
        f"the IAM {kind} {name} already exists and is not this stack's (it lacks the tags "
        f"{STACK_TAG}={ctx.names.prefix} and {REGION_TAG}={ctx.names.region}): "
        f"choose another --prefix, or delete that {kind} if it is yours to delete")


class Role(Resource):
    """A role with one inline policy; the policy is rewritten when it differs."""

    def __init__(self, name: str, role_name, service: str, policy):
        self.name = name
        self._role_name = role_name
        self._service = service
        self._policy = policy  # ctx -> JSON document

    def role_name(self, ctx) -> str:
        return self._role_name(ctx.names)

    def _get(self, ctx, name: str) -> dict | None:
        try:
            return ctx.client("iam").get_role(RoleName=name)["Role"]
        except Exception as error:
            if missing(error):
                return None
            raise

    def find(self, ctx):
        role = self._get(ctx, self.role_name(ctx))
        if role is None or not _ours(ctx, role.get("Tags")):
            return None
        return {"id": role["RoleName"], "arn": role["Arn"]}

    def create(self, ctx):
        iam, name = ctx.client("iam"), self.role_name(ctx)
        try:
            role = iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=policies.trust_policy(self._service),
                Tags=_tag_list(ctx))["Role"]
        except Exception as error:
            if aws_errors.kind(error) == aws_errors.ALREADY_EXISTS:
                raise _taken("role", name, ctx) from None
            raise
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName=POLICY_NAME,
                            PolicyDocument=self._policy(ctx))
        return {"id": role["RoleName"], "arn": role["Arn"]}

    def drift(self, ctx, found):
        try:
            document = ctx.client("iam").get_role_policy(
                RoleName=found["id"], PolicyName=POLICY_NAME)["PolicyDocument"]
        except Exception as error:
            if not missing(error):
                raise
            return ["inline policy missing"]
        if isinstance(document, str):
            document = json.loads(unquote(document))
        return [] if document == json.loads(self._policy(ctx)) else ["inline policy differs"]

    def update(self, ctx, found):
        if not self.drift(ctx, found):
            return UNCHANGED, found
        ctx.client("iam").put_role_policy(RoleName=found["id"], PolicyName=POLICY_NAME,
                                          PolicyDocument=self._policy(ctx))
        return UPDATED, found

    def delete(self, ctx, record):
        role = self._get(ctx, record["id"])
        if role is None or not _ours_to_delete(ctx, record["id"], role.get("Tags")):
            return  # gone already, or another stack's: never ours to delete
        iam = ctx.client("iam")
        try:
            for policy in iam.list_role_policies(RoleName=record["id"])["PolicyNames"]:
                iam.delete_role_policy(RoleName=record["id"], PolicyName=policy)
            for profile in iam.list_instance_profiles_for_role(
                    RoleName=record["id"])["InstanceProfiles"]:
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=profile["InstanceProfileName"], RoleName=record["id"])
            iam.delete_role(RoleName=record["id"])
        except Exception as error:
            if not missing(error):
                raise


class InstanceProfile(Resource):
    """The host role, wrapped so EC2 can hand it to the instance."""

    name = "host_profile"

    @staticmethod
    def _get(ctx, name: str) -> dict | None:
        try:
            return ctx.client("iam").get_instance_profile(
                InstanceProfileName=name)["InstanceProfile"]
        except Exception as error:
            if missing(error):
                return None
            raise

    def find(self, ctx):
        profile = self._get(ctx, ctx.names.host_profile)
        if profile is None or not _ours(ctx, profile.get("Tags")):
            return None
        return {"id": profile["InstanceProfileName"], "arn": profile["Arn"],
                "roles": [role["RoleName"] for role in profile.get("Roles", [])]}

    def create(self, ctx):
        iam, name = ctx.client("iam"), ctx.names.host_profile
        try:
            iam.create_instance_profile(InstanceProfileName=name, Tags=_tag_list(ctx))
        except Exception as error:
            if aws_errors.kind(error) == aws_errors.ALREADY_EXISTS:
                raise _taken("instance profile", name, ctx) from None
            raise
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=ctx.names.host_role)
        return self.find(ctx)

    def drift(self, ctx, found):
        return [] if ctx.names.host_role in found.get("roles", []) else ["host role missing"]

    def update(self, ctx, found):
        if not self.drift(ctx, found):
            return UNCHANGED, found
        ctx.client("iam").add_role_to_instance_profile(
            InstanceProfileName=found["id"], RoleName=ctx.names.host_role)
        return UPDATED, self.find(ctx)

    def delete(self, ctx, record):
        profile = self._get(ctx, record["id"])
        if profile is None or not _ours_to_delete(ctx, record["id"], profile.get("Tags")):
            return  # gone already, or another stack's
        iam = ctx.client("iam")
        try:
            for role in profile.get("Roles", []):
                try:
                    iam.remove_role_from_instance_profile(
                        InstanceProfileName=record["id"], RoleName=role["RoleName"])
                except Exception as error:
                    if not missing(error):
                        raise
            iam.delete_instance_profile(InstanceProfileName=record["id"])
        except Exception as error:
            if not missing(error):
                raise

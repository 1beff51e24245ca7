"""The roles (each with one inline, least-privilege policy) and the host's instance profile."""
from __future__ import annotations

import json
from urllib.parse import unquote

from orderhist import policies
from orderhist.resources import UNCHANGED, UPDATED, Resource, missing


class Role(Resource):
    """A role with one inline policy; the policy is rewritten when it differs."""

    def __init__(self, name: str, role_name, service: str, policy):
        self.name = name
        self._role_name = role_name
        self._service = service
        self._policy = policy  # ctx -> JSON document

    def role_name(self, ctx) -> str:
        return self._role_name(ctx.names)

    def find(self, ctx):
        try:
            role = ctx.client("iam").get_role(RoleName=self.role_name(ctx))["Role"]
        except Exception as error:
            if missing(error):
                return None
            raise
        return {"id": role["RoleName"], "arn": role["Arn"]}

    def create(self, ctx):
        iam = ctx.client("iam")
        role = iam.create_role(
            RoleName=self.role_name(ctx),
            AssumeRolePolicyDocument=policies.trust_policy(self._service),
            Tags=[{"Key": k, "Value": v} for k, v in ctx.tags().items()],
        )["Role"]
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName="orderhist",
                            PolicyDocument=self._policy(ctx))
        return {"id": role["RoleName"], "arn": role["Arn"]}

    def drift(self, ctx, found):
        try:
            document = ctx.client("iam").get_role_policy(
                RoleName=found["id"], PolicyName="orderhist")["PolicyDocument"]
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
        ctx.client("iam").put_role_policy(RoleName=found["id"], PolicyName="orderhist",
                                          PolicyDocument=self._policy(ctx))
        return UPDATED, found

    def delete(self, ctx, record):
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

    def find(self, ctx):
        iam = ctx.client("iam")
        try:
            profile = iam.get_instance_profile(
                InstanceProfileName=ctx.names.host_role)["InstanceProfile"]
        except Exception as error:
            if missing(error):
                return None
            raise
        return {"id": profile["InstanceProfileName"], "arn": profile["Arn"],
                "roles": [role["RoleName"] for role in profile.get("Roles", [])]}

    def create(self, ctx):
        iam = ctx.client("iam")
        iam.create_instance_profile(
            InstanceProfileName=ctx.names.host_role,
            Tags=[{"Key": k, "Value": v} for k, v in ctx.tags().items()])
        iam.add_role_to_instance_profile(
            InstanceProfileName=ctx.names.host_role, RoleName=ctx.names.host_role)
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
        iam = ctx.client("iam")
        try:
            for role in record.get("roles") or [ctx.names.host_role]:
                try:
                    iam.remove_role_from_instance_profile(
                        InstanceProfileName=record["id"], RoleName=role)
                except Exception as error:
                    if not missing(error):
                        raise
            iam.delete_instance_profile(InstanceProfileName=record["id"])
        except Exception as error:
            if not missing(error):
                raise

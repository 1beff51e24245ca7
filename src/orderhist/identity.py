"""Acting as a role: credentials from sts:AssumeRole, refreshed before they expire.

On AWS, Lambda's service assumes the function's execution role (to read the stream for the
mapping, and for the handler's own calls) and EC2 gives the instance profile's role to the
host. Locally the runtime and the agent stand in for those services: they assume the role
with the target's base credentials (the account's root on the emulator) and say which
service principal they act for, so the emulator checks the role's trust policy as AWS would.
A `Target` carrying a `RoleSource` makes every client built from it act as that role.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

# The emulator honours this header from the account's root only (the machine itself): the
# principal that assumes the role is then that service, not root.
ACTING_SERVICE_HEADER = "X-Orderhist-Acting-Service"
# Set in a local process's environment: the service whose role it assumes (EC2 for the agent).
ACTING_SERVICE_ENV = "ORDERHIST_ACTING_SERVICE"
LAMBDA = "lambda.amazonaws.com"
EC2 = "ec2.amazonaws.com"
DURATION_S = 3600


@dataclass(frozen=True)
class RoleSource:
    arn: str
    session_name: str
    service: str | None = None   # the service principal acted for; None: the caller itself


def as_role(target, arn: str, session_name: str, service: str | None = None):
    """The same target, with clients acting as the role `arn`."""
    return replace(target, role=RoleSource(arn, session_name[:64], service))


def base_target(target):
    return replace(target, role=None)


def refreshable_credentials(role: RoleSource, make_sts):
    """botocore credentials of `role`, assumed with `make_sts()`'s client (the base target's
    credentials) on first use (a client can be made while the endpoint is away; a refusal
    then fails the call, which its caller counts and retries) and again a few minutes before
    they expire (botocore's refresh). The STS client comes from the caller so that this
    module need not know how clients are made (`aws` imports it, not the other way)."""
    from botocore.credentials import DeferredRefreshableCredentials

    return DeferredRefreshableCredentials(lambda: assume(make_sts(), role), "assume-role")


def assume(sts, role: RoleSource) -> dict:
    if role.service:
        def say_service(request, **kwargs):
            request.headers[ACTING_SERVICE_HEADER] = role.service

        sts.meta.events.register("before-sign.sts.AssumeRole", say_service)
    reply = sts.assume_role(RoleArn=role.arn, RoleSessionName=role.session_name,
                            DurationSeconds=DURATION_S)["Credentials"]
    return {"access_key": reply["AccessKeyId"], "secret_key": reply["SecretAccessKey"],
            "token": reply["SessionToken"], "expiry_time": reply["Expiration"].isoformat()}


def environment_credentials(sts, role_arn: str, session_name: str,
                            service: str | None = None) -> dict[str, str]:
    """A role's credentials as a process's AWS_* variables (a Lambda container's), assumed
    through the STS client `sts`."""
    found = assume(sts, RoleSource(role_arn, session_name[:64], service))
    return {"AWS_ACCESS_KEY_ID": found["access_key"],
            "AWS_SECRET_ACCESS_KEY": found["secret_key"],
            "AWS_SESSION_TOKEN": found["token"]}


def acting_service() -> str | None:
    return os.environ.get(ACTING_SERVICE_ENV) or None

"""The EC2 host: a security group with no inbound rule and an Amazon Linux 2023 instance
(arm64 or x86_64 as its type asks, IMDSv2 only, encrypted root volume, reached through SSM).
Locally the instance exists in the emulator and this machine plays its part."""
from __future__ import annotations

from orderhist import hostsetup
from orderhist.resources import (
    UNCHANGED,
    UPDATED,
    Resource,
    artifacts,
    host_refresh,
    machine,
    missing,
    retry_while_propagating,
    unless_missing,
    wait_until,
)

LIVE_STATES = ["pending", "running", "stopping", "stopped"]


class SecurityGroup(Resource):
    name = "security_group"

    def find(self, ctx):
        groups = ctx.client("ec2").describe_security_groups(Filters=[
            {"Name": "group-name", "Values": [ctx.names.security_group]}])["SecurityGroups"]
        if not groups:
            return None
        return {"id": groups[0]["GroupId"], "vpc": groups[0].get("VpcId")}

    def create(self, ctx):
        ec2 = ctx.client("ec2")
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        extra = {"VpcId": vpcs[0]["VpcId"]} if vpcs else {}
        group = ec2.create_security_group(
            GroupName=ctx.names.security_group,
            Description="orderhist host: no inbound access, reached through SSM",
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(ctx)}], **extra)
        return {"id": group["GroupId"], "vpc": extra.get("VpcId")}

    def delete(self, ctx, record):
        unless_missing(ctx.client("ec2").delete_security_group, GroupId=record["id"])


class Instance(Resource):
    """The host. Its settings live on it as tags (the agent, a digest of the artifacts it was
    set up with) beside what EC2 says (type, image), so `up` can tell what a change needs:
    a new agent or instance type replaces it (see `replacement`); new artifacts re-run its
    set-up through SSM (`update`, see host_refresh)."""

    name = "instance"
    noun = "instance"
    update_verb = "re-run host set-up"

    def find(self, ctx):
        found = self._live(ctx, "tag:Name", ctx.names.host)
        return found[0] if found else None

    def find_strays(self, ctx):
        # A crashed `up` may have launched an instance it never recorded, or several.
        return self._live(ctx, "tag:orderhist:stack", ctx.names.prefix)

    @staticmethod
    def _live(ctx, tag_filter: str, value: str) -> list[dict]:
        reservations = ctx.client("ec2").describe_instances(Filters=[
            {"Name": tag_filter, "Values": [value]},
            {"Name": "instance-state-name", "Values": LIVE_STATES},
        ])["Reservations"]
        return [_record(i) for r in reservations for i in r["Instances"]]

    def replacement(self, ctx, found) -> list[str]:
        """Why the host must be replaced rather than updated, in words; empty if it need not."""
        reasons = []
        wanted_type = ctx.settings.instance_type
        if found.get("instance_type") and found["instance_type"] != wanted_type:
            change = f"instance type {found['instance_type']} -> {wanted_type}"
            old = machine.describe(ctx, found["instance_type"]).architecture
            new = machine.describe(ctx, wanted_type).architecture
            reasons.append(change + (f", {old} -> {new} image" if old != new else ""))
        # Two agents would ship the same files; the set-up script installs one and knows
        # nothing of removing the other. A host made before agents were recorded is treated
        # the same: what it runs is unknown.
        if found.get("agent") != ctx.settings.agent:
            reasons.append(f"agent {found.get('agent') or 'not recorded'} -> "
                           f"{ctx.settings.agent}")
        return reasons

    def drift(self, ctx, found):
        if ctx.target.is_local:
            # Locally the host is this machine: `up` restarts its agent itself.
            return []
        return host_refresh.changes(found.get("setup"), artifacts.wanted(ctx))

    def update(self, ctx, found):
        changes = self.drift(ctx, found)
        if not changes:
            return UNCHANGED, found
        host_refresh.rerun(ctx, found["id"], _user_data(ctx), ctx.settings.agent)
        setup = host_refresh.digest(artifacts.wanted(ctx))
        ctx.client("ec2").create_tags(Resources=[found["id"]], Tags=[
            {"Key": host_refresh.SETUP_TAG, "Value": setup}])
        return UPDATED, {**found, "setup": setup}

    def create(self, ctx):
        ec2 = ctx.client("ec2")
        wanted = machine.describe(ctx, ctx.settings.instance_type)
        image = machine.image(ctx, wanted)
        setup = host_refresh.digest(artifacts.wanted(ctx))
        network = machine.launch_options(ctx, wanted, ctx.record("security_group")["id"],
                                         ctx.record("security_group").get("vpc"))
        reply = retry_while_propagating(lambda: ec2.run_instances(
            ImageId=image,
            InstanceType=wanted.instance_type,
            MinCount=1, MaxCount=1,
            IamInstanceProfile={"Arn": ctx.record("host_profile")["arn"]},
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled",
                             "HttpPutResponseHopLimit": 1},
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {
                "Encrypted": True, "VolumeSize": 8, "VolumeType": "gp3",
                "DeleteOnTermination": True}}],
            UserData=_user_data(ctx),  # boto3 encodes it
            TagSpecifications=[
                {"ResourceType": "instance",
                 "Tags": _tags(ctx) + [{"Key": "Name", "Value": ctx.names.host},
                                       {"Key": host_refresh.AGENT_TAG,
                                        "Value": ctx.settings.agent},
                                       {"Key": host_refresh.SETUP_TAG, "Value": setup}]},
                {"ResourceType": "volume", "Tags": _tags(ctx)},
            ],
            **network,
        ), ctx=ctx, resource=self.name)
        instance = reply["Instances"][0]
        # The host's first boot (user data, SSM registration) starts once it runs: say so
        # while it is pending rather than sit silent.
        wait_until(ctx, self.name, lambda: _state(ec2, instance["InstanceId"]) != "pending",
                   f"{instance['InstanceId']} is starting (pending)", timeout=600)
        return {"id": instance["InstanceId"], "ami": image, "instance_type": wanted.instance_type,
                "agent": ctx.settings.agent, "setup": setup}

    def delete(self, ctx, record):
        ec2 = ctx.client("ec2")
        try:
            ec2.terminate_instances(InstanceIds=[record["id"]])
            # The security group cannot go while the instance still holds it, and a
            # replacement must not start while the old host still ships.
            wait_until(ctx, self.name, lambda: _state(ec2, record["id"]) == "terminated",
                       f"{record['id']} is terminating", timeout=300)
        except Exception as error:
            if not missing(error):
                raise


def _state(ec2, instance_id: str) -> str:
    """The instance's state name; "terminated" once EC2 no longer knows it."""
    try:
        reply = ec2.describe_instances(InstanceIds=[instance_id])
    except Exception as error:
        if missing(error):
            return "terminated"
        raise
    for reservation in reply.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            return instance["State"]["Name"]
    return "terminated"


def _record(instance: dict) -> dict:
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    return {"id": instance["InstanceId"], "ami": instance.get("ImageId"),
            "instance_type": instance.get("InstanceType"),
            "agent": tags.get(host_refresh.AGENT_TAG), "setup": tags.get(host_refresh.SETUP_TAG)}


def _user_data(ctx) -> str:
    return hostsetup.user_data(ctx.settings.agent, bucket=ctx.names.bucket,
                               region=ctx.names.region)


def _tags(ctx) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in ctx.tags().items()]

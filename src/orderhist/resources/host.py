"""The EC2 host: a security group with no inbound rule and an Amazon Linux 2023 instance
(IMDSv2 only, encrypted root volume, reached through SSM). Locally the instance exists in
the emulator and this machine plays its part."""
from __future__ import annotations

from orderhist import hostsetup
from orderhist.resources import Resource, missing, retry_while_propagating, unless_missing

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
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
    name = "instance"

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
        return [{"id": i["InstanceId"], "ami": i.get("ImageId")}
                for r in reservations for i in r["Instances"]]

    def create(self, ctx):
        ec2 = ctx.client("ec2")
        image = ctx.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
        reply = retry_while_propagating(lambda: ec2.run_instances(
            ImageId=image,
            InstanceType=ctx.settings.instance_type,
            MinCount=1, MaxCount=1,
            IamInstanceProfile={"Arn": ctx.records["host_profile"]["arn"]},
            SecurityGroupIds=[ctx.records["security_group"]["id"]],
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled",
                             "HttpPutResponseHopLimit": 1},
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {
                "Encrypted": True, "VolumeSize": 8, "VolumeType": "gp3",
                "DeleteOnTermination": True}}],
            UserData=hostsetup.user_data(ctx.settings.agent, bucket=ctx.names.bucket,
                                         region=ctx.names.region),  # boto3 encodes it
            TagSpecifications=[
                {"ResourceType": "instance",
                 "Tags": _tags(ctx) + [{"Key": "Name", "Value": ctx.names.host}]},
                {"ResourceType": "volume", "Tags": _tags(ctx)},
            ],
        ))
        instance = reply["Instances"][0]
        return {"id": instance["InstanceId"], "ami": image}

    def delete(self, ctx, record):
        ec2 = ctx.client("ec2")
        try:
            ec2.terminate_instances(InstanceIds=[record["id"]])
            # The security group cannot go while the instance still holds it.
            ec2.get_waiter("instance_terminated").wait(
                InstanceIds=[record["id"]], WaiterConfig={"Delay": 2, "MaxAttempts": 150})
        except Exception as error:
            if not missing(error):
                raise


def _tags(ctx) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in ctx.tags().items()]

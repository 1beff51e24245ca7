"""What an instance type means for the host: its processor architecture (which decides the
Amazon Linux 2023 image), whether it is burstable (a T type, launched with standard CPU
credits), and a default subnet in a zone that offers it. Asked of EC2 itself
(DescribeInstanceTypes), so a type AWS does not know is refused before anything is made."""
from __future__ import annotations

from dataclasses import dataclass

from orderhist import aws_errors
from orderhist.errors import OrderhistError, UsageProblem

# The public SSM parameters AWS keeps pointing at the latest AL2023 image, one per architecture.
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{}"
# Preferred first: a type that runs both i386 and x86_64 (t2, m4 ...) gets x86_64.
ARCHITECTURES = ("arm64", "x86_64")


@dataclass(frozen=True)
class Machine:
    instance_type: str
    architecture: str  # arm64 or x86_64
    burstable: bool


_described: dict[tuple, Machine] = {}


def describe(ctx, instance_type: str) -> Machine:
    """The type as EC2 knows it in this region; UsageProblem (exit 2) for a type it does not
    know or whose architecture has no AL2023 image (mac types, i386 only)."""
    key = (ctx.target, instance_type)
    if key in _described:
        return _described[key]
    try:
        found = ctx.client("ec2").describe_instance_types(
            InstanceTypes=[instance_type])["InstanceTypes"]
    except Exception as error:  # botocore's ClientError, told apart by its code
        if aws_errors.kind(error) != aws_errors.UNSUPPORTED:
            raise
        found = []
    if not found:
        raise UsageProblem(
            f"--instance-type {instance_type!r} is not an EC2 instance type in "
            f"{ctx.names.region}: use e.g. t4g.small (arm64) or t3.small (x86_64)")
    supported = found[0].get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    architecture = next((a for a in ARCHITECTURES if a in supported), None)
    if architecture is None:
        raise UsageProblem(
            f"--instance-type {instance_type!r} runs {', '.join(supported) or 'nothing'}, for "
            "which there is no Amazon Linux 2023 image: use an arm64 or x86_64 type such as "
            "t4g.small or t3.small")
    machine = Machine(instance_type, architecture,
                      bool(found[0].get("BurstablePerformanceSupported")))
    _described[key] = machine
    return machine


def image(ctx, machine: Machine) -> str:
    return ctx.client("ssm").get_parameter(
        Name=AMI_PARAMETER.format(machine.architecture))["Parameter"]["Value"]


def launch_options(ctx, machine: Machine, group: str, vpc: str | None) -> dict:
    """RunInstances arguments for networking and CPU credits.

    The host keeps a public IPv4 address (billed by AWS, $0.005/hour): it has no inbound
    rule, but it must reach SSM, S3 and Kinesis, and without a public address a default VPC
    needs a NAT gateway or four interface endpoints for that, each costing more. It is asked
    for explicitly rather than left to the subnet's MapPublicIpOnLaunch, which a user may
    have turned off (the host would then never register with SSM)."""
    options: dict = {}
    if machine.burstable:
        # T3/T3a/T4g start "unlimited": a busy host would be billed for surplus credits.
        # Standard credits throttle to the baseline instead, which the generator and the
        # agent stay well under.
        options["CreditSpecification"] = {"CpuCredits": "standard"}
    subnet = _subnet(ctx, machine, vpc) if vpc else None
    if subnet is None:
        return {**options, "SecurityGroupIds": [group]}
    return {**options, "NetworkInterfaces": [{
        "DeviceIndex": 0, "SubnetId": subnet, "Groups": [group],
        "AssociatePublicIpAddress": True, "DeleteOnTermination": True}]}


def _subnet(ctx, machine: Machine, vpc: str) -> str | None:
    """A default subnet of the VPC in a zone that offers the type (us-east-1e offers no
    Graviton type, for one); None when the VPC has no default subnet at all."""
    ec2 = ctx.client("ec2")
    subnets = ec2.describe_subnets(Filters=[
        {"Name": "vpc-id", "Values": [vpc]},
        {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    if not subnets:
        return None
    offered = {o["Location"] for o in ec2.describe_instance_type_offerings(
        LocationType="availability-zone",
        Filters=[{"Name": "instance-type", "Values": [machine.instance_type]}],
    )["InstanceTypeOfferings"]}
    for subnet in sorted(subnets, key=lambda s: s["AvailabilityZone"]):
        if subnet["AvailabilityZone"] in offered:
            return subnet["SubnetId"]
    raise OrderhistError(
        f"no zone of {ctx.names.region} with a default subnet offers {machine.instance_type}: "
        "choose another --instance-type")

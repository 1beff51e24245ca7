"""Checks of what a user gives, made before anything is saved, started or created.

A value that AWS, the emulator or the file system would refuse later (after the state file
recorded it, half a stack exists, or a folder was made) is refused here instead, as a
UsageProblem (exit 2) whose message names the fix. The click layer (cli.options) and the
library (lifecycle) call the same functions, so the CLI fails fast and a library caller,
or a value recorded by an older version, is held to the same rules.
"""
from __future__ import annotations

import errno
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from orderhist.errors import UsageProblem

# The partition whose ARNs the stack writes ("arn:aws:..." in its names and policies).
PARTITION = "aws"
# What the local stack calls per region (IAM is global); moto serves a region for a service
# only where botocore's endpoint data lists it.
STACK_SERVICES = ("dynamodb", "ec2", "kinesis", "lambda", "s3", "sqs", "ssm", "sts")


class OptionConflict(UsageProblem):
    """An option that does not fit the stack it met (known only once its state is read): the
    CLI reports it as it does click's own usage errors, naming the command's --help."""


# ---- regions -------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _partitions() -> list[dict]:
    from botocore.loaders import create_loader

    return create_loader().load_data("partitions")["partitions"]


def _listed(partition: dict) -> set[str]:
    # The listing also holds pseudo regions such as "aws-global"; the regex keeps real ones.
    pattern = re.compile(partition["regionRegex"])
    return {name for name in partition["regions"] if pattern.match(name)}


def partition_of(region: str) -> tuple[str | None, bool]:
    """(partition id, listed): the partition that lists the region, else the one whose
    naming pattern it fits (listed False: a region newer than this botocore), else None."""
    for partition in _partitions():
        if region in _listed(partition):
            return partition["id"], True
    for partition in _partitions():
        if re.match(partition["regionRegex"], region):
            return partition["id"], False
    return None, False


@lru_cache(maxsize=1)
def local_regions() -> tuple[str, ...]:
    """The regions the local emulator can build the whole stack in.

    Not every region botocore knows: moto answers 500 to every call in a region its
    endpoint data does not list for the service (me-west-1 and sa-west-1 are in
    partitions.json but not there yet), and the host's AMI comes from an SSM parameter moto
    ships for the aws partition's older regions only (cn-north-1, us-gov-west-1,
    ap-southeast-7 fail at the instance)."""
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    served = set.intersection(*(set(resolver.get_available_endpoints(service, PARTITION))
                                for service in STACK_SERVICES))
    amis = _moto_ami_regions()
    return tuple(sorted(served & amis if amis is not None else served))


def _moto_ami_regions() -> set[str] | None:
    """Regions moto has the Amazon Linux AMI parameters for (one file each), found without
    importing moto; None if its data is not where moto 5 keeps it (then nothing is ruled
    out here, and the emulator's own error says what failed)."""
    import importlib.util

    spec = importlib.util.find_spec("moto")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        data = Path(folder) / "ssm" / "resources" / "ami-amazon-linux-latest"
        if data.is_dir():
            return {path.name.split(".")[0] for path in data.glob("*.json.gz")}
    return None


def region(target: str, name: str) -> str | None:
    """Refuse a region the target cannot build the stack in; return a warning for a region
    that is only plausible (a new AWS region this botocore does not list yet)."""
    if target == "local":
        if name in local_regions():
            return None
        _, listed = partition_of(name)
        what = ("an AWS region the local emulator cannot build the stack in" if listed
                else "not an AWS region")
        raise UsageProblem(f"--region {name!r} is {what}: use one of "
                           f"{', '.join(local_regions())}")
    partition, listed = partition_of(name)
    if partition == PARTITION:
        if listed:
            return None
        # botocore resolves an unlisted region by the partition's pattern, so a region that
        # opened after this botocore was released works; refusing it would make the user
        # wait for a botocore release.
        import botocore

        return (f"region {name!r} is not in botocore {botocore.__version__}'s list of "
                "regions; going on since it is named like a new AWS region (upgrade "
                "botocore if AWS refuses it)")
    if partition is not None:
        raise UsageProblem(f"--region {name!r} is in the {partition} partition; orderhist "
                           f"names its resources with the {PARTITION} partition's ARNs: use "
                           "a region such as us-east-1 or eu-west-1")
    raise UsageProblem(f"--region {name!r} is not an AWS region: use one such as "
                       "us-east-1 or eu-west-1")


# ---- names and settings --------------------------------------------------------------------

PREFIX_MAX = 20
_PREFIX = re.compile(r"^[a-z][a-z0-9-]*$")
# S3 refuses bucket names that start so, and the bucket is "<prefix>-artifacts-...".
_RESERVED_BUCKET_STARTS = ("xn--", "sthree-", "amzn-s3-demo-")


def prefix(value: str) -> str:
    """A resource-name prefix every derived name accepts: the bucket
    `<p>-artifacts-<account>-<region>` is the longest (20 + 38 with the longest region
    today, under S3's 63) and the strictest (lowercase, reserved starts)."""
    bucket_start = value + "-artifacts-"
    if (not _PREFIX.match(value) or len(value) > PREFIX_MAX or value.endswith("-")
            or bucket_start.startswith(_RESERVED_BUCKET_STARTS)):
        raise UsageProblem(
            f"--prefix {value!r} cannot name the stack's resources: use 1-{PREFIX_MAX} "
            "lowercase letters, digits or hyphens, starting with a letter and not ending "
            "with a hyphen, not starting with xn-- or sthree- (it names buckets, queues "
            "and roles)")
    return value


def fault_rate(value: float) -> float:
    # The emulator refuses 1 (every call would fail, so nothing could ever be provisioned).
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value < 1):
        raise UsageProblem(f"--faults {value} is not a rate the emulator accepts: use a "
                           "fraction from 0 up to (not including) 1, e.g. 0.05")
    return float(value)


_INSTANCE_TYPE = re.compile(r"^([a-z]+)(\d+)([a-z-]*)\.([a-z0-9-]+)$")


def instance_type(value: str) -> str:
    """The shape of an EC2 instance type (family, generation, attributes . size). Whether EC2
    knows it, and which architecture's Amazon Linux 2023 image it boots, `up` asks EC2
    (DescribeInstanceTypes) before anything is made."""
    if _INSTANCE_TYPE.match(value) is None:
        raise UsageProblem(f"--instance-type {value!r} is not an EC2 instance type: use e.g. "
                           "t4g.small or m7g.large")
    return value


def endpoint_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageProblem(f"--endpoint-url {value!r} is not an http(s) URL: use e.g. "
                           "http://localhost:4566")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError:
        raise UsageProblem(f"--endpoint-url {value!r} has a bad port") from None
    return value


def number(value: float, option: str, minimum: float, maximum: float | None = None) -> float:
    """A finite number in range: click's FloatRange lets nan through (every comparison with
    it is false), and inf is no bound."""
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum:g} to {maximum:g}" if maximum is not None else \
            f"of at least {minimum:g}"
        raise UsageProblem(f"{option} {value} is not a number {bound}")
    return value


# ---- paths ---------------------------------------------------------------------------------

def output_file(path: Path, option: str) -> Path:
    """A file the command can create: its folder exists and can be written, and the path is
    not a folder."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageProblem(f"{option} {path} is a folder: name a file in it")
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise UsageProblem(f"{option} {path}: the folder {folder} {what}; create it first "
                           "or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageProblem(f"{option} {path}: the folder {folder} cannot be written; "
                           "choose another path or change its permissions")
    return path


def usable_home(root: Path) -> None:
    """Create the home (`up` is about to fill it) and prove it can be written, by a file
    that is gone once made: as root, permission bits prove nothing, and a read-only mount
    or a pseudo file system shows only when something is written."""
    import tempfile

    try:
        try:  # private from the start when it is orderhist's to make (see Home.make_dirs)
            root.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as error:
        # Named as the home, not as the probe's random file name or a parent folder.
        as_home = OSError(error.errno, error.strerror, str(root))
        raise UsageProblem(path_problem(as_home, root)
                           or f"cannot use {root} as the home ({error.strerror}): choose "
                              "another --home (or ORDERHIST_HOME)") from None


_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def path_problem(error: BaseException, home: Path | None) -> str | None:
    """The one-line message for a file-system error on a path the user chose (the home, or
    a file named on the command line), or None if it is not one (then it is an operational
    failure, reported as such)."""
    if not isinstance(error, OSError) or not error.filename:
        return None
    path = Path(os.fsdecode(error.filename))
    in_home = home is not None and (path == home or home in path.parents)
    reason = (error.strerror or str(error)).lower()
    if error.errno in _NOT_WRITABLE:
        fix = (f"choose another --home (or ORDERHIST_HOME), or make {home} writable"
               if in_home else "choose a path you can write, or change its permissions")
    elif error.errno == errno.ENOTDIR:
        fix = "a part of that path is a file, not a folder: " + (
            "choose another --home (or ORDERHIST_HOME)" if in_home else "choose another path")
    elif error.errno == errno.EISDIR and not in_home:
        fix = "it is a folder: name a file"
    elif error.errno == errno.ENOENT and not in_home:
        # Inside the home a missing file is orderhist's own business, not the user's.
        fix = "create its folder first, or choose another path"
    else:
        return None
    return f"{path}: {reason}; {fix}"


def unservable(target) -> str | None:
    """Why a recorded stack cannot be reached through the API, or None: a local stack in a
    region the emulator does not serve (made before regions were checked). Its resources
    live only in the emulator's memory, so stopping the emulator removes them all."""
    if target.is_local and target.region not in local_regions():
        return (f"this home's stack is in region {target.region!r}, which the local emulator "
                "cannot serve: run `orderhist down` to remove it")
    return None

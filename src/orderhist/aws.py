"""The one place AWS clients are made.

Everything that talks to AWS (or to the embedded emulator) takes a `Target` and asks this
module for clients, so a test can point the whole tool at a moto server by endpoint alone.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderhist.identity import RoleSource

LOCAL = "local"
AWS = "aws"
DEFAULT_REGION = "us-east-1"
# The emulator accepts any key; these never leave this machine.
LOCAL_ACCESS_KEY = "orderhist-local"
LOCAL_SECRET_KEY = "orderhist-local-secret"


@dataclass(frozen=True)
class Target:
    kind: str  # LOCAL or AWS
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None  # the emulator, or any AWS-compatible endpoint
    # clients act as that role (sts:AssumeRole), else the base identity
    role: RoleSource | None = None

    @property
    def is_local(self) -> bool:
        return self.kind == LOCAL


_sessions: dict[Target, object] = {}


def session(target: Target):
    """A botocore session for the target; cached per target within one process.

    botocore rather than boto3: the clients are the same, and `orderhist orders` starts
    ~0.1 s sooner without boto3's import of s3transfer and friends."""
    cached = _sessions.get(target)
    if cached is not None:
        return cached
    if target.is_local:
        made = _isolated_botocore_session()
        made.set_credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
    else:
        import botocore.session

        made = botocore.session.Session()
    if target.role is not None:
        from orderhist import identity

        # What set_credentials stores, refreshable: re-assumed before it expires.
        made._credentials = identity.refreshable_credentials(
            target.role, lambda: client("sts", identity.base_target(target), patient=True))
    made.set_config_variable("region", target.region)
    # The quick loader and item parser lean on botocore's private methods: only on a botocore
    # they were tested on and whose methods still look the same; otherwise botocore's own.
    if hooks_problem() is None:
        made.register_component("data_loader",
                                _quick_loader(made.get_config_variable("data_path")))
        made.register_component("response_parser_factory", _item_parser_factory())
    _sessions[target] = made
    return made


# botocore's private pieces the hooks here override or call, as they were in the range they
# were tested on (1.44.x; boto3>=1.34 may bring another, which gets botocore's stock parser,
# loader and session variables, with the same results, only slower).
TESTED_BOTOCORE = ((1, 44), (1, 45))
_PRIVATE = {
    ("parsers", "JSONParser", "_do_parse"): "(self, response, shape)",
    ("parsers", "JSONParser", "_handle_map"): "(self, shape, value)",
    ("parsers", "ResponseParserFactory", "create_parser"): "(self, protocol_name)",
    # (behind botocore's instance_cache, which keeps no __wrapped__)
    ("loaders", "Loader", "list_available_services"): "(self, *args, **kwargs)",
    ("loaders", "Loader", "list_api_versions"): "(self, *args, **kwargs)",
}


def hooks_problem() -> str | None:
    """Why botocore's private hooks must not be used with the installed botocore; None if
    they may. Checked once per process, when the first session is made."""
    if "problem" not in _hooks:
        _hooks["problem"] = _check_hooks()
    return _hooks["problem"]


_hooks: dict = {}


def _check_hooks() -> str | None:
    import inspect

    import botocore
    from botocore import configprovider, loaders, parsers

    found = tuple(int(part) for part in botocore.__version__.split(".")[:2])
    low, high = TESTED_BOTOCORE
    if not low <= found < high:
        return f"botocore {botocore.__version__} is outside the tested {low}..{high}"
    modules = {"parsers": parsers, "loaders": loaders}
    for (module, owner, name), signature in _PRIVATE.items():
        method = getattr(getattr(modules[module], owner, None), name, None)
        try:
            actual = str(inspect.signature(inspect.unwrap(method))) if method else None
        except (TypeError, ValueError):
            actual = None
        if actual != signature:
            return f"botocore's {owner}.{name} is {actual}, not {signature}"
    if "_defaults" not in vars(parsers.ResponseParserFactory()):
        return "botocore's ResponseParserFactory has no _defaults"
    variables = getattr(configprovider, "BOTOCORE_DEFAUT_SESSION_VARIABLES", None)
    if not isinstance(variables, dict) or any(
            not isinstance(spec, tuple) or len(spec) != 4 for spec in variables.values()):
        return "botocore's default session variables are not 4-tuples"
    return None


def _isolated_botocore_session():
    """A botocore session blind to the user's profile, config and credential files.

    The local target must never reach real AWS or trip over the shell's AWS_PROFILE, so none
    of the AWS_* variables or ~/.aws files are consulted; explicit keys and endpoint decide.
    """
    import botocore.session
    from botocore import configprovider

    defaults = getattr(configprovider, "BOTOCORE_DEFAUT_SESSION_VARIABLES", None) \
        if hooks_problem() is None else None
    defaults = defaults or getattr(botocore.session.Session, "SESSION_VARIABLES", None)
    try:
        isolated = {name: (None, None, spec[2], spec[3]) for name, spec in defaults.items()}
    except (AttributeError, TypeError, IndexError):
        isolated = None  # a botocore unlike any tested: its own session, files still blind
    made = botocore.session.Session(session_vars=isolated)
    made.set_config_variable("config_file", os.devnull)
    made.set_config_variable("credentials_file", os.devnull)
    return made


def _quick_loader(data_path: str | None):
    """botocore's model loader, except that "is there such a service?" is answered by
    looking in that service's own folder. botocore lists all ~400 service folders (2,700
    stat calls) to check the name of every client it makes: half of creating a client, and
    `orderhist orders` makes one per run. The full listing is still there if asked for."""
    from collections.abc import Sequence

    from botocore import loaders
    from botocore.exceptions import DataNotFoundError

    class ServiceNames(Sequence):
        def __init__(self, loader, type_name: str):
            self.loader, self.type_name = loader, type_name
            self._listing: list[str] | None = None

        def __contains__(self, name) -> bool:
            if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
                return False
            try:
                return bool(self.loader.list_api_versions(name, self.type_name))
            except DataNotFoundError:
                return False

        def _all(self) -> list[str]:
            if self._listing is None:
                self._listing = loaders.Loader.list_available_services(self.loader,
                                                                       self.type_name)
            return self._listing

        def __getitem__(self, index):
            return self._all()[index]

        def __len__(self) -> int:
            return len(self._all())

    class QuickLoader(loaders.Loader):
        def list_available_services(self, type_name):
            return ServiceNames(self, type_name)

    paths = [os.path.expanduser(os.path.expandvars(path))
             for path in (data_path or "").split(os.pathsep) if path]
    return QuickLoader(extra_search_paths=paths)


# The one attribute type botocore changes on the way out: binary (B, BS), base64-decoded.
# A type key is the first key of its object, so it follows a "{"; a string value "B" (a
# stock code) never does.
_BINARY_TYPE_KEY = re.compile(rb'\{\s*"BS?"\s*:')


def _item_parser_factory():
    """botocore's response parsers, except that DynamoDB items are taken from the JSON as
    they are when the body holds no binary value.

    botocore walks the ten members of the AttributeValue shape for every attribute of every
    item, which made reading one customer's 8,000 lines cost ~1 s of CPU; for every type but
    binary (strings, numbers, sets, flags, and maps and lists of them) it returns exactly
    the JSON's own values. A body that may hold a binary value goes through botocore's
    parser whole, as does everything that is not an item."""
    from botocore import parsers

    class ItemJSONParser(parsers.JSONParser):
        _plain_items = False

        def _do_parse(self, response, shape):
            body = response.get("body") or b""
            self._plain_items = _BINARY_TYPE_KEY.search(body) is None
            return super()._do_parse(response, shape)

        def _handle_map(self, shape, value):
            if self._plain_items and shape.value.name == "AttributeValue" \
                    and isinstance(value, dict):
                return value
            return super()._handle_map(shape, value)

    class ItemParserFactory(parsers.ResponseParserFactory):
        def create_parser(self, protocol_name):
            if protocol_name == "json":
                return ItemJSONParser(**self._defaults)
            return super().create_parser(protocol_name)

    factory = ItemParserFactory()
    factory.set_parser_defaults(timestamp_parser=_parse_timestamp)
    return factory


def _parse_timestamp(value):
    """Epoch-number timestamps (Kinesis's ApproximateArrivalTimestamp, one per record) as
    UTC datetimes; botocore converts each to the local zone through dateutil, which cost the
    runtime a quarter of its CPU. Anything else goes to botocore's own parser."""
    from datetime import datetime

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


# The emulator is on this machine: a call it has not answered in a few seconds means it is
# stalled (stopped, wedged), not far away. Measured on a stack at full size, the slowest
# call a command makes is well under a second (a 1 MB Query page: 73 ms; GetRecords of
# 10,000 records, 8.5 MB: 212 ms; PutRecords of 500 x 1 KB: 187 ms), so 3 s leaves a wide
# margin for a loaded machine, and one retry rides out a pause of the emulator's collector.
# A stalled emulator fails a command in ~3 + 1 + 3 s instead of botocore's 60 s x retries.
LOCAL_QUICK = {"connect_timeout": 1, "read_timeout": 3,
               # total: botocore's "max_attempts" counts the retries only
               "retries": {"total_max_attempts": 2, "mode": "standard"}}
# For calls that may legitimately take long, and for the background processes whose loops
# retry anyway: `up`'s provisioning (the artifacts upload takes ~1 s a file, the emulator's
# first EC2 call ~1 s) and the runtime's polling.
LOCAL_PATIENT = {"connect_timeout": 5, "read_timeout": 60,
                 "retries": {"max_attempts": 4, "mode": "standard"}}
STALLED_LOCAL = "the local emulator is not answering: run `orderhist up`"


def client(service: str, target: Target, patient: bool = True, **config):
    """A client for `service` on `target`. Locally, `patient=False` makes calls fail within
    seconds, for what a person waits on (orders, rejects, status, --wait's follow), so a
    stalled emulator is said at once; everything else (provisioning, the background
    processes, scripts and tests) keeps timeouts a loaded machine cannot trip. On AWS,
    botocore's timeouts with four attempts. `config` overrides both."""
    from botocore.config import Config

    settings: dict[str, object] = {"retries": {"max_attempts": 4, "mode": "standard"}}
    if target.is_local:
        settings.update(LOCAL_PATIENT if patient else LOCAL_QUICK)
    settings.update(config)
    return session(target).create_client(
        service, region_name=target.region, endpoint_url=target.endpoint_url,
        config=Config(**settings))


def local_child_environment(region: str) -> dict[str, str]:
    """Environment for a process of the local stack: the user's AWS_* settings removed and
    dummy credentials set, so whatever the child builds with boto3 cannot reach real AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=LOCAL_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=LOCAL_SECRET_KEY,
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def unreachable_local(error: Exception) -> bool:
    """Whether `error` is a call to this machine's emulator that timed out or could not
    connect: the emulator is stopped, stalled or gone."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    if not isinstance(error, (BotoConnectionError, HTTPClientError)):
        return False
    endpoint = str(getattr(error, "kwargs", {}).get("endpoint_url") or "")
    return endpoint.startswith(("http://127.0.0.1:", "http://localhost:"))

"""AWS's eventual consistency, on demand (`emulator serve --consistency-delay SECONDS`).

moto makes everything at once and re-uses names at once, so code that would fail on a real
account's first deploy passes here. With a delay D > 0 this WSGI layer, in front of
everything else, behaves as AWS's control plane does, with AWS's own codes and messages:
- a role (made, or its policy changed) or an instance profile (made, or given its role)
  cannot be used for D seconds: Lambda CreateFunction/UpdateFunctionConfiguration "cannot be
  assumed by Lambda", CreateEventSourceMapping "Cannot access stream", EC2 RunInstances
  "Invalid IAM Instance Profile";
- a deleted queue's name is refused with QueueDeletedRecently for 12 x D seconds (AWS: 60 s;
  12 x 5 s, with the tests scaling it down through D);
- streams and tables are CREATING for D seconds after they are made and DELETING for D
  seconds after they are deleted (their names refused meanwhile), mappings are Creating,
  instances pending after RunInstances and shutting-down after TerminateInstances.
What it injected is counted (the /_orderhist/consistency route) so tests can show each was met.
Data-plane calls pass straight through: only control-plane requests are read.
"""
from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
import zlib
from collections import Counter
from urllib.parse import parse_qs, unquote

QUEUE_COOLDOWN_PER_DELAY = 12
ACCOUNT = "123456789012"
LAMBDA_PREFIX = "/2015-03-31/"

_JSON_ACTIONS = {
    "Kinesis_20131202": {"CreateStream", "DeleteStream", "DescribeStream",
                         "DescribeStreamSummary"},
    "DynamoDB_20120810": {"CreateTable", "DeleteTable", "DescribeTable"},
    "AmazonSQS": {"CreateQueue", "DeleteQueue"},
}
_FORM_ACTIONS = {"CreateRole", "PutRolePolicy", "AttachRolePolicy", "CreateInstanceProfile",
                 "AddRoleToInstanceProfile", "RunInstances", "DescribeInstances",
                 "TerminateInstances", "CreateQueue", "DeleteQueue"}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/")


class Consistency:
    def __init__(self, app, delay: float, clock=time.monotonic):
        self.app, self.delay, self.clock = app, float(delay), clock
        self.ready_at: dict[tuple[str, str], float] = {}   # ("role"|"profile", name)
        self.function_roles: dict[str, str] = {}
        self.young: dict[tuple[str, str], float] = {}      # being created until
        self.gone: dict[tuple[str, str], tuple[float, dict]] = {}  # being deleted until, facts
        self.met: Counter = Counter()
        self.lock = threading.Lock()

    def report(self) -> dict:
        with self.lock:
            return {"delay": self.delay, "met": dict(self.met)}

    def __call__(self, environ, start_response):
        if self.delay <= 0:
            return self.app(environ, start_response)
        request = _Request.read(environ)
        if request is None:
            return self.app(environ, start_response)
        with self.lock:
            refusal = self._refusal(request)
        if refusal is not None:
            return refusal.send(start_response)
        status, headers, body = _call(self.app, environ)
        if status.startswith("2"):
            with self.lock:
                body = self._after(request, body)
        # DynamoDB's answers carry the CRC32 of their body, which botocore checks: a body
        # restated here gets its own.
        headers = [(k, str(zlib.crc32(body)) if k.lower() == "x-amz-crc32" else v)
                   for k, v in headers if k.lower() != "content-length"]
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body]

    # Before: what AWS would refuse -------------------------------------------------------------

    def _refusal(self, r: _Request):
        now = self.clock()
        if r.action in ("CreateFunction", "UpdateFunctionConfiguration") and r.params.get("Role"):
            if self._unready("role", _name(r.params["Role"]), now):
                return self._refuse(r, "InvalidParameterValueException",
                                    "The role defined for the function cannot be assumed by "
                                    "Lambda.")
        if r.action == "CreateEventSourceMapping":
            role = self.function_roles.get(_name(str(r.params.get("FunctionName", ""))))
            if role and self._unready("role", role, now):
                return self._refuse(
                    r, "InvalidParameterValueException",
                    f"Cannot access stream {r.params.get('EventSourceArn')}. Please ensure the "
                    "role can perform the GetRecords, GetShardIterator, DescribeStream, and "
                    "ListStreams Actions on your stream in IAM.")
        if r.action == "RunInstances":
            profile = r.params.get("IamInstanceProfile.Arn") or r.params.get(
                "IamInstanceProfile.Name")
            if profile and self._unready("profile", _name(profile), now):
                field = "arn" if "IamInstanceProfile.Arn" in r.params else "name"
                return self._refuse(r, "InvalidParameterValue",
                                    f"Value ({profile}) for parameter iamInstanceProfile.{field} "
                                    f"is invalid. Invalid IAM Instance Profile {field.upper()}"
                                    if field == "arn" else
                                    f"Value ({profile}) for parameter iamInstanceProfile.name is "
                                    "invalid. Invalid IAM Instance Profile name")
        if r.action == "CreateQueue" and self._gone("queue", r.params.get("QueueName"), now):
            return self._refuse(r, "QueueDeletedRecently",
                                "You must wait 60 seconds after deleting a queue before you can "
                                "create another queue with the same name.")
        if r.action == "CreateStream" and self._gone("stream", r.params.get("StreamName"), now):
            return self._refuse(r, "ResourceInUseException",
                                f"Stream {r.params['StreamName']} under account {ACCOUNT} is "
                                "being deleted.")
        if r.action == "CreateTable" and self._gone("table", r.params.get("TableName"), now):
            return self._refuse(r, "ResourceInUseException",
                                "Attempt to change a resource which is still in use: Table is "
                                f"being deleted: {r.params['TableName']}")
        if r.action in ("DescribeStream", "DescribeStreamSummary"):
            name = r.params.get("StreamName") or _name(str(r.params.get("StreamARN", "")))
            if self._gone("stream", name, now):
                return _Reply.json(r, self._deleting_stream(r, name))
        if r.action == "DescribeTable" and self._gone("table", r.params.get("TableName"), now):
            facts = self.gone[("table", r.params["TableName"])][1]
            return _Reply.json(r, {"Table": {**facts, "TableStatus": "DELETING"}})
        return None

    def _refuse(self, r: _Request, code: str, text: str) -> _Reply:
        self.met[f"{r.action}: {code}"] += 1
        return _Reply.error(r, code, text)

    def _unready(self, kind: str, name: str, now: float) -> bool:
        return now < self.ready_at.get((kind, name), 0.0)

    def _gone(self, kind: str, name, now: float) -> bool:
        entry = self.gone.get((kind, str(name)))
        return entry is not None and now < entry[0]

    def _deleting_stream(self, r: _Request, name: str) -> dict:
        self.met[f"{r.action}: DELETING"] += 1
        facts = self.gone[("stream", name)][1]
        summary = {"StreamName": name, "StreamARN": facts.get("arn", ""),
                   "StreamStatus": "DELETING", "RetentionPeriodHours": 24,
                   "StreamCreationTimestamp": 0, "EnhancedMonitoring": [],
                   "OpenShardCount": 0}
        if r.action == "DescribeStream":
            return {"StreamDescription": {**summary, "Shards": [], "HasMoreShards": False}}
        return {"StreamDescriptionSummary": summary}

    # After: what AWS would say, and what to remember -----------------------------------------

    def _after(self, r: _Request, body: bytes) -> bytes:
        now, until = self.clock(), self.clock() + self.delay
        p, action = r.params, r.action
        if action in ("CreateRole", "PutRolePolicy", "AttachRolePolicy"):
            self.ready_at[("role", p.get("RoleName", ""))] = until
        elif action in ("CreateInstanceProfile", "AddRoleToInstanceProfile"):
            self.ready_at[("profile", p.get("InstanceProfileName", ""))] = until
        elif action in ("CreateFunction", "UpdateFunctionConfiguration") and p.get("Role"):
            self.function_roles[_name(str(p.get("FunctionName") or r.path_name))] = \
                _name(p["Role"])
        elif action == "DeleteQueue":
            queue = p.get("QueueUrl", "").rstrip("/").rsplit("/", 1)[-1]
            self.gone[("queue", queue)] = (now + QUEUE_COOLDOWN_PER_DELAY * self.delay, {})
        elif action == "CreateStream":
            self.young[("stream", p.get("StreamName", ""))] = until
        elif action == "DeleteStream":
            name = p.get("StreamName") or _name(str(p.get("StreamARN", "")))
            arn = p.get("StreamARN") or f"arn:aws:kinesis:{r.region}:{ACCOUNT}:stream/{name}"
            self.gone[("stream", name)] = (until, {"arn": arn})
        elif action == "DeleteTable":
            table = json.loads(body).get("TableDescription", {})
            facts = {k: table[k] for k in ("TableName", "TableArn", "KeySchema",
                                           "AttributeDefinitions") if k in table}
            self.gone[("table", p.get("TableName", ""))] = (until, facts)
        elif action == "CreateTable":
            self.young[("table", p.get("TableName", ""))] = until
        elif action == "CreateEventSourceMapping":
            reply = json.loads(body)
            self.young[("mapping", reply.get("UUID", ""))] = until
        elif action == "RunInstances":
            for instance in re.findall(rb"<instanceId>([^<]+)</instanceId>", body):
                self.young[("instance", instance.decode())] = until
        elif action == "TerminateInstances":
            for instance in re.findall(rb"<instanceId>([^<]+)</instanceId>", body):
                self.gone[("instance", instance.decode())] = (until, {})
        return self._restate(r, body, now)

    def _restate(self, r: _Request, body: bytes, now: float) -> bytes:
        """Rewrite the states of what is still being made or removed."""
        if r.action in ("CreateStream", "CreateTable", "DescribeStream", "DescribeStreamSummary",
                        "DescribeTable"):
            return self._restate_json(r, body, now)
        if r.service == "lambda" and "event-source-mappings" in r.path:
            return self._restate_mappings(body, r, now)
        if r.action in ("DescribeInstances", "TerminateInstances"):
            return _restate_instances(body, lambda i: self._instance_state(i, now), self.met)
        return body

    def _restate_json(self, r: _Request, body: bytes, now: float) -> bytes:
        if not body:
            return body
        reply = json.loads(body)
        for holder in ("StreamDescription", "StreamDescriptionSummary", "Table",
                       "TableDescription"):
            described = reply.get(holder)
            if not isinstance(described, dict):
                continue
            kind, key = ("table", "TableName") if "Table" in holder else ("stream", "StreamName")
            status = "TableStatus" if kind == "table" else "StreamStatus"
            if now < self.young.get((kind, described.get(key, "")), 0.0) \
                    and described.get(status) == "ACTIVE":
                described[status] = "CREATING"
                self.met[f"{r.action}: CREATING"] += 1
        return json.dumps(reply).encode()

    def _restate_mappings(self, body: bytes, r: _Request, now: float) -> bytes:
        if not body:
            return body
        reply = json.loads(body)
        for mapping in reply.get("EventSourceMappings", [reply]):
            if r.method == "DELETE":
                mapping["State"] = "Deleting"
            elif now < self.young.get(("mapping", mapping.get("UUID", "")), 0.0):
                mapping["State"] = "Creating"
                self.met["EventSourceMapping: Creating"] += 1
        return json.dumps(reply).encode()

    def _instance_state(self, instance: str, now: float) -> str | None:
        entry = self.gone.get(("instance", instance))
        if entry is not None:  # a pending instance terminated goes straight to shutting-down
            return "shutting-down" if now < entry[0] else None
        if now < self.young.get(("instance", instance), 0.0):
            return "pending"
        return None


_STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48}
_INSTANCE_ITEM = re.compile(rb"(<instanceId>([^<]+)</instanceId>.*?<instanceState>)"
                            rb"\s*<code>\d+</code>\s*<name>[^<]+</name>", re.S)


def _restate_instances(body: bytes, state_of, met: Counter) -> bytes:
    def swap(match):
        state = state_of(match.group(2).decode())
        if state is None:
            return match.group(0)
        met[f"instance: {state}"] += 1
        return match.group(1) + f"<code>{_STATE_CODES[state]}</code><name>{state}</name>".encode()

    return _INSTANCE_ITEM.sub(swap, body)


def _name(arn_or_name: str) -> str:
    """The last part of an ARN (role/x, instance-profile/x, function:x) or the name itself."""
    return re.split(r"[/:]", arn_or_name.rstrip("/"))[-1]


class _Request:
    def __init__(self, service, action, params, environ, path="", method="", path_name=""):
        self.service, self.action, self.params = service, action, params
        self.path, self.method, self.path_name = path, method, path_name
        self.protocol = "json" if environ.get("HTTP_X_AMZ_TARGET") else (
            "rest" if service == "lambda" else "query")
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        self.region = scope.group(1) if scope else "us-east-1"

    @classmethod
    def read(cls, environ) -> _Request | None:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if target:
            prefix, _, action = target.partition(".")
            if action not in _JSON_ACTIONS.get(prefix, ()):
                return None  # the data plane, and all else: untouched, unread
            body = _body(environ)
            service = {"Kinesis_20131202": "kinesis", "DynamoDB_20120810": "dynamodb"}.get(
                prefix, "sqs")
            return cls(service, action, json.loads(body or b"{}"), environ)
        if path.startswith(LAMBDA_PREFIX):
            return cls._lambda(environ, path, method)
        if method == "POST" and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
            params = {k: v[-1] for k, v in parse_qs(_body(environ).decode()).items()}
            if params.get("Action") in _FORM_ACTIONS:
                scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
                return cls(scope.group(2) if scope else "", params["Action"], params, environ)
        return None

    @classmethod
    def _lambda(cls, environ, path: str, method: str) -> _Request | None:
        rest = path[len(LAMBDA_PREFIX):].strip("/").split("/")
        body = _body(environ) if method in ("POST", "PUT") else b""
        params = json.loads(body or b"{}") if body[:1] == b"{" else {}
        if rest == ["functions"] and method == "POST":
            action = "CreateFunction"
        elif len(rest) == 3 and rest[0] == "functions" and rest[2] == "configuration" \
                and method == "PUT":
            action = "UpdateFunctionConfiguration"
        elif rest[0] == "event-source-mappings":
            action = "CreateEventSourceMapping" if method == "POST" else "EventSourceMapping"
        else:
            return None
        return cls("lambda", action, params, environ, path, method,
                   unquote(rest[1]) if len(rest) > 1 else "")


def _body(environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)  # for whoever answers after us
    return raw


def _call(app, environ) -> tuple[str, list, bytes]:
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return captured["status"], captured["headers"], body


class _Reply:
    def __init__(self, status: str, headers: list, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def send(self, start_response):
        start_response(self.status, self.headers + [("Content-Length", str(len(self.body))),
                                                     ("x-amzn-RequestId", str(uuid.uuid4()))])
        return [self.body]

    @classmethod
    def json(cls, r: _Request, payload: dict) -> _Reply:
        content = "application/x-amz-json-1.1" if r.service == "kinesis" else \
            "application/x-amz-json-1.0"
        return cls("200 OK", [("Content-Type", content)], json.dumps(payload).encode())

    @classmethod
    def error(cls, r: _Request, code: str, text: str) -> _Reply:
        """AWS's error shape for the request's protocol."""
        if r.protocol == "query":
            sqs = r.service == "sqs"
            full = f"AWS.SimpleQueueService.{code}" if sqs else code
            if r.service == "ec2":
                xml = (f"<Response><Errors><Error><Code>{code}</Code><Message>{_xml(text)}"
                       f"</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID>"
                       "</Response>")
            else:
                xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{full}</Code><Message>"
                       f"{_xml(text)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
                       "</ErrorResponse>")
            return cls("400 Bad Request", [("Content-Type", "text/xml")], xml.encode())
        if r.protocol == "rest":
            return cls("400 Bad Request", [("Content-Type", "application/json"),
                                           ("x-amzn-ErrorType", code)],
                       json.dumps({"Type": "User", "message": text}).encode())
        headers = [("Content-Type", "application/x-amz-json-1.0")]
        namespace = {"sqs": "com.amazonaws.sqs", "kinesis": "com.amazonaws.kinesis.v20131202",
                     "dynamodb": "com.amazonaws.dynamodb.v20120810"}[r.service]
        if r.service == "sqs":
            headers.append(("x-amzn-query-error", f"AWS.SimpleQueueService.{code};Sender"))
        return cls("400 Bad Request", headers,
                   json.dumps({"__type": f"{namespace}#{code}", "message": text}).encode())


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

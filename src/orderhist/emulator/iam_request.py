"""What a request asks IAM for: its action and the resource ARNs, derived from the request the
way AWS derives them (the Service Authorization Reference's resource types), for `authz`.

- JSON protocols (X-Amz-Target): DynamoDB tables and indexes (every table of a batch or
  transaction), Kinesis streams (GetRecords through its shard iterator, which moto makes
  from the stream's name), SQS queues from their URL, CloudWatch Logs groups and streams;
- the query protocol (Action=...): SQS, IAM roles, instance profiles and policies,
  sts:AssumeRole's role; EC2 and the rest against "*";
- REST: Lambda functions and event source mappings from the path, S3 buckets and objects
  from the host or the path.
A resource this module cannot name is "*", which only a statement for "*" allows.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from orderhist.emulator.fastpath import PARSED_BODY
from orderhist.emulator.wire import cbor_request, is_cbor

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/")
_JSON_SERVICES = {"DynamoDB_20120810": "dynamodb", "Kinesis_20131202": "kinesis",
                  "AmazonSQS": "sqs", "Logs_20140328": "logs", "AmazonSSM": "ssm",
                  "TrentService": "kms", "AWSEvents": "events"}
_STREAM_KEYS = ("StreamARN", "StreamName")


@dataclass
class Asked:
    access_key: str | None
    service: str
    action: str              # "dynamodb:BatchWriteItem"
    resources: list[str]
    account: str
    region: str
    params: dict             # the parsed parameters, for the few callers that need them
    target: str = ""         # X-Amz-Target, for JSON protocols
    cbor: bool = False       # Kinesis in CBOR (the AWS SDK for Java: the Kinesis Agent)


def credential_scope(environ) -> tuple[str | None, str, str]:
    """(access key, region, service) from the SigV4 Authorization header or a presigned
    URL's X-Amz-Credential; (None, "us-east-1", "") when the request is not signed."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1), match.group(2), match.group(3)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    credential = (query.get("X-Amz-Credential") or [""])[0].split("/")
    if len(credential) >= 4:
        return credential[0], credential[2], credential[3]
    return None, "us-east-1", ""


def read_body(environ) -> bytes:
    import io

    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)  # whoever answers reads it again
    return raw


def asked(environ, account: str) -> Asked:
    key, region, service = credential_scope(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    arn = _Arns(region, account)
    if target:
        prefix, _, operation = target.partition(".")
        service = _JSON_SERVICES.get(prefix, service)
        cbor = is_cbor(environ)
        try:
            raw = read_body(environ)
            if cbor:
                # The wire layer's reading: the SDK for Java's tag-1 millisecond timestamps
                # (GetShardIterator AT_TIMESTAMP) would fail plain cbor2.loads.
                params = cbor_request(target, raw) or {}
            else:
                params = json.loads(raw or b"{}")
                # Handed on: the fast path answers from this parse instead of its own.
                environ[PARSED_BODY] = (raw, params)
        except Exception:  # unreadable: "*", and whoever answers says what is wrong with it
            params = {}
        if not isinstance(params, dict):
            params = {}
        resources = _json_resources(service, operation, params, arn)
        return Asked(key, service, f"{service}:{operation}", resources, account, region, params,
                     target, cbor)
    path = environ.get("PATH_INFO", "")
    if service == "lambda" or path.startswith(("/2015-03-31/", "/2017-03-31/")):
        action, resources = _lambda(environ.get("REQUEST_METHOD", ""), path, arn)
        return Asked(key, "lambda", action, resources, account, region, {})
    if service == "s3":
        action, resources = _s3(environ, path)
        return Asked(key, "s3", action, resources, account, region, {})
    params = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        params.update({k: v[-1] for k, v in parse_qs(read_body(environ).decode()).items()})
    operation = params.get("Action", "")
    resources = _query_resources(service, operation, params, arn)
    return Asked(key, service, f"{service}:{operation}", resources, account, region, params)


class _Arns:
    def __init__(self, region: str, account: str):
        self.region, self.account = region, account

    def __call__(self, service: str, rest: str, regional: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if regional else ''}:{self.account}:{rest}"

    def queue(self, url: str) -> str:
        parts = url.rstrip("/").split("/")
        account = parts[-2] if len(parts) >= 2 and parts[-2].isdigit() else self.account
        return f"arn:aws:sqs:{self.region}:{account}:{parts[-1]}"


def _json_resources(service: str, operation: str, p: dict, arn: _Arns) -> list[str]:
    if service == "dynamodb":
        return _dynamodb(operation, p, arn)
    if service == "kinesis":
        return _kinesis(operation, p, arn)
    if service == "sqs":
        if p.get("QueueUrl"):
            return [arn.queue(str(p["QueueUrl"]))]
        if operation == "CreateQueue" and p.get("QueueName"):
            return [arn("sqs", str(p["QueueName"]))]
        return ["*"]
    if service == "logs":
        group = p.get("logGroupName") or p.get("logGroupIdentifier")
        if not group:
            return ["*"]
        group = str(group)
        base = group if group.startswith("arn:") else arn("logs", f"log-group:{group}")
        if p.get("logStreamName"):
            return [f"{base}:log-stream:{p['logStreamName']}"]
        return [base]
    return ["*"]


def _table(arn: _Arns, name) -> str:
    name = str(name)
    return name if name.startswith("arn:") else arn("dynamodb", f"table/{name}")


def _dynamodb(operation: str, p: dict, arn: _Arns) -> list[str]:
    if operation in ("BatchWriteItem", "BatchGetItem"):
        items = p.get("RequestItems")
        return sorted(_table(arn, t) for t in items) if isinstance(items, dict) and items \
            else ["*"]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        tables = set()
        for entry in p.get("TransactItems") or []:
            for part in (entry.values() if isinstance(entry, dict) else []):
                if isinstance(part, dict) and part.get("TableName"):
                    tables.add(_table(arn, part["TableName"]))
        return sorted(tables) or ["*"]
    name = p.get("TableName") or p.get("TableArn") or p.get("ResourceArn")
    if not name:
        return ["*"]
    table = _table(arn, name)
    if operation in ("Query", "Scan") and p.get("IndexName"):
        return [f"{table}/index/{p['IndexName']}"]
    return [table]


def _kinesis(operation: str, p: dict, arn: _Arns) -> list[str]:
    if p.get("ConsumerARN"):
        return [str(p["ConsumerARN"])]
    if p.get("StreamARN"):
        return [str(p["StreamARN"])]
    if p.get("StreamName"):
        return [arn("kinesis", f"stream/{p['StreamName']}")]
    if operation == "GetRecords" and isinstance(p.get("ShardIterator"), str):
        name = _iterator_stream(p["ShardIterator"])
        if name:
            return [arn("kinesis", f"stream/{name}")]
    return ["*"]


def _iterator_stream(iterator: str) -> str | None:
    """moto's iterators are base64 of "<stream name>:<shard id>:<sequence>"."""
    try:
        text = base64.decodebytes(iterator.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    name, _, rest = text.partition(":")
    return name if rest and name and name != "None" else None


def _query_resources(service: str, operation: str, p: dict, arn: _Arns) -> list[str]:
    if service == "sqs":
        if p.get("QueueUrl"):
            return [arn.queue(p["QueueUrl"])]
        if p.get("QueueName"):
            return [arn("sqs", p["QueueName"])]
    elif service == "sts":
        if p.get("RoleArn"):
            return [p["RoleArn"]]
    elif service == "iam":
        for key, kind in (("RoleName", "role"), ("InstanceProfileName", "instance-profile"),
                          ("UserName", "user")):
            if p.get(key):
                return [f"arn:aws:iam::{arn.account}:{kind}/{p[key]}"]
        if p.get("PolicyArn"):
            return [p["PolicyArn"]]
    return ["*"]


# Lambda, REST -------------------------------------------------------------------------------

def _lambda(method: str, path: str, arn: _Arns) -> tuple[str, list[str]]:
    parts = [unquote(p) for p in path.strip("/").split("/")[1:]]
    if not parts:
        return "lambda:Unknown", ["*"]
    if parts[0] == "functions":
        if len(parts) == 1:
            return ("lambda:CreateFunction" if method == "POST" else "lambda:ListFunctions"), \
                ["*"] if method != "POST" else [arn("lambda", "function:*")]
        name = parts[1]
        function = name if name.startswith("arn:") else arn("lambda", f"function:{name}")
        sub = parts[2] if len(parts) > 2 else ""
        action = {
            ("GET", ""): "GetFunction", ("DELETE", ""): "DeleteFunction",
            ("GET", "configuration"): "GetFunctionConfiguration",
            ("PUT", "configuration"): "UpdateFunctionConfiguration",
            ("PUT", "code"): "UpdateFunctionCode", ("POST", "invocations"): "InvokeFunction",
            ("GET", "policy"): "GetPolicy", ("POST", "policy"): "AddPermission",
            ("DELETE", "policy"): "RemovePermission",
        }.get((method, sub), f"{method.title()}Function{sub.title()}")
        return f"lambda:{action}", [function]
    if parts[0] == "event-source-mappings":
        if len(parts) == 1:
            return ("lambda:CreateEventSourceMapping" if method == "POST"
                    else "lambda:ListEventSourceMappings"), ["*"]
        action = {"GET": "GetEventSourceMapping", "PUT": "UpdateEventSourceMapping",
                  "DELETE": "DeleteEventSourceMapping"}.get(method, "GetEventSourceMapping")
        return f"lambda:{action}", [arn("lambda", f"event-source-mapping:{parts[1]}")]
    if parts[0] == "tags" and len(parts) > 1:
        action = {"GET": "ListTags", "POST": "TagResource", "DELETE": "UntagResource"}.get(
            method, "ListTags")
        return f"lambda:{action}", ["/".join(parts[1:])]
    return f"lambda:{parts[0]}", ["*"]


# S3, REST -----------------------------------------------------------------------------------

_BUCKET_SUBRESOURCES = {
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration",
                   "PutEncryptionConfiguration"),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock",
                          "PutBucketPublicAccessBlock"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls",
                          "PutBucketOwnershipControls"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration",
                  "PutLifecycleConfiguration"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "location": ("GetBucketLocation", None, None),
    "versions": ("ListBucketVersions", None, None),
    "uploads": ("ListBucketMultipartUploads", None, None),
}
_METHOD_COLUMN = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2}


def _s3(environ, path: str) -> tuple[str, list[str]]:
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    host = environ.get("HTTP_HOST", "").split(":")[0]
    labels = host.split(".")
    virtual = len(labels) > 1 and not host.replace(".", "").isdigit() and (
        ".s3." in f".{host}." and labels[0] != "s3" or labels[-1] == "localhost")
    if virtual:
        bucket, key = labels[0], path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    bucket, key = unquote(bucket), unquote(key)
    if not bucket:
        return "s3:ListAllMyBuckets", ["*"]
    if key:
        object_arn = f"arn:aws:s3:::{bucket}/{key}"
        if "tagging" in query:
            action = {"GET": "GetObjectTagging", "PUT": "PutObjectTagging"}.get(
                method, "DeleteObjectTagging")
        elif "uploadId" in query and method == "DELETE":
            action = "AbortMultipartUpload"
        elif "uploadId" in query and method == "GET":
            action = "ListMultipartUploadParts"
        else:
            action = {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject",
                      "POST": "PutObject", "DELETE": "DeleteObject"}.get(method, "GetObject")
        return f"s3:{action}", [object_arn]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if method == "POST" and "delete" in query:
        return "s3:DeleteObject", [f"{bucket_arn}/*"]
    for name, actions in _BUCKET_SUBRESOURCES.items():
        if name in query:
            action = actions[_METHOD_COLUMN.get(method, 0)] or actions[0]
            return f"s3:{action}", [bucket_arn]
    action = {"GET": "ListBucket", "HEAD": "ListBucket", "PUT": "CreateBucket",
              "DELETE": "DeleteBucket"}.get(method, "ListBucket")
    return f"s3:{action}", [bucket_arn]

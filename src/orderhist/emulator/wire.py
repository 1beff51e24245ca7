"""Wire format and errors: a request as the emulator's layers see it, replies and AWS's error
shapes for the JSON protocols (DynamoDB's awsJson1.0, Kinesis's awsJson1.1) and Kinesis's
CBOR form. The bottom of the emulator's imports: nothing here imports another module of it.

CBOR: the AWS SDK for Java (and so the Amazon Kinesis Agent) talks to Kinesis in
application/x-amz-cbor-1.1 by default - the awsJson1.1 members, with blobs as byte strings and
timestamps as epoch milliseconds. Requests are read into the JSON form every other layer
handles, and replies written back in CBOR, with cbor2.
"""
from __future__ import annotations

import base64
import json
import os
import zlib

DYNAMODB = "DynamoDB_20120810."
KINESIS = "Kinesis_20131202."
DYNAMODB_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
JSON_10 = "application/x-amz-json-1.0"
JSON_11 = "application/x-amz-json-1.1"
CBOR = "application/x-amz-cbor-1.1"


class Reply:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status: str, body: bytes, headers: list[tuple[str, str]]):
        self.status, self.body, self.headers = status, body, headers


class Call:
    """One request as a handler sees it: parsed JSON body, account and region."""
    __slots__ = ("environ", "raw", "body", "injector", "_account", "_region")
    _account: str | None
    _region: str | None

    def __init__(self, environ, raw: bytes, body, injector):
        self.environ, self.raw, self.body, self.injector = environ, raw, body, injector
        self._account = self._region = None

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = account_of(self.environ)
        return self._account

    @property
    def region(self) -> str:
        if self._region is None:
            self._region = region_of(self.environ)
        return self._region


def dynamodb_reply(payload) -> Reply:
    return dynamodb_reply_text(json.dumps(payload))


def dynamodb_reply_text(text: str) -> Reply:
    body = text.encode()
    # boto3 checks DynamoDB bodies against this header when it is present, as moto sends it.
    return Reply("200 OK", body, [("Content-Type", JSON_10),
                                  ("x-amz-crc32", str(zlib.crc32(body)))])


def kinesis_reply(payload) -> Reply:
    return Reply("200 OK", json.dumps(payload).encode(), [("Content-Type", JSON_11)])


def dynamodb_error(status: str, code: str, message: str) -> Reply:
    body = json.dumps({"__type": DYNAMODB_ERROR_PREFIX + code, "message": message}).encode()
    return Reply(status, body, [("Content-Type", JSON_10),
                                ("x-amz-crc32", str(zlib.crc32(body)))])


def kinesis_error(status: str, code: str, message: str) -> Reply:
    return Reply(status, json.dumps({"__type": code, "message": message}).encode(),
                 [("Content-Type", JSON_11)])


def validation(target: str, message: str) -> Reply:
    """AWS's 400 ValidationException for the target's service."""
    if target.startswith(DYNAMODB):
        return dynamodb_error("400 Bad Request", "ValidationException", message)
    return kinesis_error("400 Bad Request", "ValidationException", message)


def internal_error(target: str | None) -> Reply:
    """An unexpected failure as the service reports one: a 500 in its own JSON form."""
    if target and target.startswith(DYNAMODB):
        return dynamodb_error("500 Internal Server Error", "InternalServerError",
                              "Internal server error")
    if target:
        return kinesis_error("500 Internal Server Error", "InternalFailure",
                             "An internal error occurred.")
    body = (b'<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>Receiver</Type>'
            b"<Code>InternalFailure</Code><Message>An internal error occurred.</Message>"
            b"</Error><RequestId>0</RequestId></ErrorResponse>")
    return Reply("500 Internal Server Error", body, [("Content-Type", "text/xml")])


# ---------------------------------------------------------------------------------------------
# CBOR (Kinesis)

def is_cbor(environ) -> bool:
    return environ.get("CONTENT_TYPE", "").split(";")[0].strip() == CBOR


def _kinesis_model():
    global _MODEL
    if _MODEL is None:
        import botocore.session

        _MODEL = botocore.session.get_session().get_service_model("kinesis")
    return _MODEL


_MODEL = None


def cbor_request(target: str, raw: bytes):
    """The JSON form of a CBOR request body (blobs base64, timestamps epoch seconds); None if
    it is not a CBOR map."""
    import cbor2

    try:
        # Epoch timestamps (tag 1) stay numbers: the SDK for Java writes milliseconds there.
        value = cbor2.loads(raw, semantic_decoders=_EPOCH_AS_NUMBER) if raw else {}
    except (cbor2.CBORDecodeError, ValueError, OverflowError):
        return None
    if not isinstance(value, dict):
        return None
    shape = _input_shape(target)
    return _walk(shape, value, _json_leaf) if shape is not None else value


_EPOCH_AS_NUMBER = {1: lambda value, immutable: value}


def _input_shape(target: str):
    name = target.split(".", 1)[-1]
    try:
        return _kinesis_model().operation_model(name).input_shape
    except Exception:  # botocore's OperationNotFoundError: moto answers the unknown operation
        return None


def _output_shape(target: str):
    name = target.split(".", 1)[-1]
    try:
        return _kinesis_model().operation_model(name).output_shape
    except Exception:  # as above
        return None


def _walk(shape, value, leaf):
    """`value` with every scalar member of `shape` passed through leaf(kind, value)."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {key: _walk(shape.members[key], member, leaf) if key in shape.members else member
                for key, member in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_walk(shape.member, member, leaf) for member in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _walk(shape.value, member, leaf) for key, member in value.items()}
    return leaf(kind, value)


def _json_leaf(kind: str, value):
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "timestamp":
        if hasattr(value, "timestamp"):
            return value.timestamp()
        if isinstance(value, (int, float)):
            # milliseconds (the SDK for Java) or seconds (CBOR's own epoch tag)
            return value / 1000.0 if abs(value) > 1e11 else value
    return value


def _cbor_leaf(kind: str, value):
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if kind == "timestamp" and isinstance(value, (int, float)):
        import cbor2

        return cbor2.CBORTag(1, int(round(value * 1000)))
    return value


def cbor_reply(target: str, status: str, body: bytes) -> Reply:
    """A JSON reply (or error) from the layers below, re-encoded in CBOR."""
    import cbor2

    try:
        value = json.loads(body) if body else {}
    except ValueError:
        value = {"__type": "InternalFailure", "message": "An internal error occurred."}
        status = "500 Internal Server Error"
    if status.startswith("2"):
        shape = _output_shape(target)
        if shape is not None:
            value = _walk(shape, value, _cbor_leaf)
    return Reply(status, cbor2.dumps(value), [("Content-Type", CBOR)])


# ---------------------------------------------------------------------------------------------
# Account and region the way moto's BaseResponse finds them, so the fast path reads and
# writes the very backend moto would.
_accounts: dict[str, str] = {}


def account_of(environ) -> str:
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if header:
        return header
    from moto.core.responses import BaseResponse

    match = BaseResponse.access_key_regex.search(environ.get("HTTP_AUTHORIZATION", ""))
    access_key = match.group(1) if match else "AKIAEXAMPLE"
    account = _accounts.get(access_key)
    if account is None:
        from moto.iam.models import get_account_id_from

        account = _accounts[access_key] = get_account_id_from(access_key)
    return account


def region_of(environ) -> str:
    from moto.core.responses import BaseResponse

    url = environ.get("HTTP_HOST", "") + environ.get("PATH_INFO", "")
    match = BaseResponse.region_regex.search(url)
    if match:
        return match.group(1)
    match = BaseResponse.region_from_useragent_regex.search(environ.get("HTTP_USER_AGENT", ""))
    if match:
        return match.group(1)
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "AWS4" in authorization:
        return authorization.split(",")[0].split("/")[2]
    return BaseResponse.default_region

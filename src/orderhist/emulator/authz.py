"""IAM enforced in the emulator: every request authorised before anything answers it.

A WSGI layer in front of the consistency layer and the fast paths (so they are covered too).
The caller is the request's SigV4 access key: a key moto's STS issued by AssumeRole acts as
that assumed role, with the role's identity-based policies (inline and attached, read from
moto's IAM backend) evaluated by `iam_eval` for the action and resources `iam_request`
derives; any other key is the account's root, allowed everything (the CLI, tests,
`orderhist env`), as on AWS. sts:AssumeRole is also checked against the role's trust policy:
the local runtime and agent stand in for Lambda's and EC2's service, so a root caller may say
which service principal it acts for (the ACTING_SERVICE header); anyone else is the principal
its key says.

Decisions are cached per (key, action, resources) and forgotten whenever an IAM request that
may change a policy passes through, so the hot path costs a dict lookup once warm.
Denials answer in each service's own error shape with AWS's message.
"""
from __future__ import annotations

import json
import threading
import uuid
import zlib
from datetime import UTC
from urllib.parse import unquote

from orderhist.emulator import iam_eval, iam_request
from orderhist.emulator.wire import account_of as _account_of

ACTING_SERVICE = "HTTP_X_ORDERHIST_ACTING_SERVICE"
# IAM calls that cannot change what anyone may do: everything else clears the cache.
_READ_ONLY_IAM = ("Get", "List", "Simulate", "Generate")
_TIME_KEYS = ("aws:currenttime", "aws:epochtime")
_MAX_CACHE = 100_000


class Identity:
    __slots__ = ("arn", "role_arn", "account", "session", "user_id", "session_policy")

    def __init__(self, arn: str, role_arn: str | None, account: str, session: str = "",
                 user_id: str = "", session_policy: str | None = None):
        self.arn, self.role_arn, self.account = arn, role_arn, account
        self.session, self.user_id = session, user_id
        self.session_policy = session_policy  # AssumeRole's Policy: limits the role's

    @property
    def is_root(self) -> bool:
        return self.role_arn is None


class Authorizer:
    def __init__(self, app, enforce: bool = False):
        self.app, self.enforce = app, enforce
        self._decisions: dict = {}
        self._generation = 0
        self._lock = threading.Lock()
        self.denied = 0

    def report(self) -> dict:
        return {"enforce": self.enforce, "denied": self.denied,
                "cached_decisions": len(self._decisions)}

    def configure(self, enforce: bool) -> None:
        self.enforce = bool(enforce)
        self.forget()

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._decisions = {}

    def __call__(self, environ, start_response):
        if not self.enforce:
            return self.app(environ, start_response)
        account = _account_of(environ)
        key, _, service = iam_request.credential_scope(environ)
        identity = _identity(key, account)
        if identity.is_root and service not in ("iam", "sts"):
            # Root may do anything; only its IAM changes and role assumptions are read.
            return self.app(environ, start_response)
        asked = iam_request.asked(environ, account)
        refusal = self._refusal(environ, asked, identity)
        if refusal is not None:
            self.denied += 1
            return _send(start_response, refusal)
        # Not held while the request is answered: a parsed batch is hundreds of containers,
        # and every live one brings the collector's passes over moto's data sooner.
        asked.params = {}
        result = self.app(environ, start_response)
        if asked.service == "iam" and not asked.action.split(":")[1].startswith(_READ_ONLY_IAM):
            self.forget()  # a policy, a role or an attachment may have changed
        return result

    def _refusal(self, environ, asked: iam_request.Asked, identity: Identity):
        if asked.action == "sts:GetCallerIdentity":
            return None  # AWS never denies it
        if not identity.is_root:
            key = (asked.access_key, asked.action, tuple(asked.resources))
            verdict = self._decisions.get(key)
            if verdict is None:
                generation = self._generation
                verdict, cacheable = _decide(identity, asked, environ)
                with self._lock:
                    if cacheable and generation == self._generation \
                            and len(self._decisions) < _MAX_CACHE:
                        self._decisions[key] = verdict
            if verdict.decision != iam_eval.ALLOW:
                return _denial(asked, identity, verdict)
        if asked.action == "sts:AssumeRole":
            return _trust_refusal(environ, asked, identity)
        return None


def _identity(access_key: str | None, account: str) -> Identity:
    root = Identity(f"arn:aws:iam::{account}:root", None, account)
    if not access_key or not access_key.startswith("ASIA"):
        return root
    found = _assumed(access_key)
    if found is None:
        return root
    return found


_assumed_cache: dict[str, Identity] = {}


def _assumed(access_key: str) -> Identity | None:
    cached = _assumed_cache.get(access_key)
    if cached is not None:
        return cached
    from moto.iam.models import get_account_id_from
    from moto.sts.models import sts_backends

    account = get_account_id_from(access_key)
    for partition in ("aws",):
        role = sts_backends[account][partition].get_assumed_role_from_access_key(access_key)
        if role is not None:
            found = Identity(role.arn, role.role_arn, role.account_id, role.session_name,
                             role.user_id, role.policy or None)
            _assumed_cache[access_key] = found
            return found
    return None


def _role(role_arn: str, account: str):
    from moto.iam.models import iam_backends

    try:
        return iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception:  # moto's not-found type; a deleted role grants nothing
        return None


def _policies_of(role) -> list[str]:
    documents = [unquote(d) if d.lstrip().startswith("%") else d for d in role.policies.values()]
    for policy in role.managed_policies.values():
        for version in policy.versions:
            if version.is_default:
                documents.append(version.document)
    return documents


def _context(environ, asked: iam_request.Asked, identity: Identity) -> dict:
    import time
    from datetime import datetime

    now = time.time()
    return {
        "aws:PrincipalArn": identity.role_arn or identity.arn,
        "aws:PrincipalAccount": identity.account,
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": identity.user_id,
        "aws:SecureTransport": environ.get("wsgi.url_scheme") == "https",
        "aws:SourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
        "aws:RequestedRegion": asked.region,
        "aws:CurrentTime": datetime.fromtimestamp(now, UTC).isoformat(),
        "aws:EpochTime": int(now),
        "aws:ResourceAccount": asked.account,
    }


def _boundary_of(role) -> str | None:
    arn = getattr(role, "permissions_boundary_arn", None)
    if not arn:
        return None
    from moto.iam.models import iam_backends

    try:
        policy = iam_backends[role.account_id]["aws"].get_policy(arn)
    except Exception:  # a boundary that is gone allows nothing
        return json.dumps({"Statement": []})
    return next((v.document for v in policy.versions if v.is_default), None)


def _decide(identity: Identity, asked: iam_request.Asked, environ):
    # Only asked for identities that are not root (Authorizer._refusal): role_arn is set.
    role = _role(identity.role_arn, identity.account)  # type: ignore[arg-type]
    documents = _policies_of(role) if role is not None else []
    context = _context(environ, asked, identity)
    verdicts = [iam_eval.evaluate(documents, asked.action, asked.resources, context)]
    limits = [(_boundary_of(role) if role is not None else None, "permissions boundary"),
              (identity.session_policy, "session policy")]
    for document, source in limits:
        if document:
            documents.append(document)
            verdicts.append(iam_eval.evaluate([document], asked.action, asked.resources,
                                              context, source))
    # A decision that depends on the clock is made again each time.
    cacheable = not any(key in d.lower() for d in documents for key in _TIME_KEYS)
    return iam_eval.combine(verdicts), cacheable


def _trust_refusal(environ, asked: iam_request.Asked, identity: Identity):
    role_arn = asked.resources[0] if asked.resources else "*"
    role = _role(role_arn, role_arn.split(":")[4] if role_arn.count(":") >= 5 else "")
    service = environ.get(ACTING_SERVICE)
    principal = {"Service": service} if service and identity.is_root else \
        {"AWS": identity.role_arn or identity.arn}
    if role is not None:
        trust = json.loads(unquote(role.assume_role_policy_document)
                           if role.assume_role_policy_document.lstrip().startswith("%")
                           else role.assume_role_policy_document)
        statements = iam_eval.listed(trust.get("Statement"))
        context = {**_context(environ, asked, identity),
                   "sts:ExternalId": asked.params.get("ExternalId"),
                   "sts:RoleSessionName": asked.params.get("RoleSessionName")}
        context = {key: value for key, value in context.items() if value is not None}
        applicable = [s for s in statements if iam_eval.principal_matches(s, principal)
                      and any(iam_eval.wildcard_match(a, "sts:AssumeRole", True)
                              for a in iam_eval.listed(s.get("Action")))
                      and iam_eval.conditions_hold(s.get("Condition") or {}, context)]
        if any(s.get("Effect") == "Allow" for s in applicable) \
                and not any(s.get("Effect") == "Deny" for s in applicable):
            return None
    who = service if service and identity.is_root else identity.arn
    return _error(asked, "AccessDenied",
                  f"User: {who} is not authorized to perform: sts:AssumeRole on resource: "
                  f"{role_arn}")


# Denials in each service's shape ------------------------------------------------------------

def message(identity: Identity, action: str, verdict: iam_eval.Verdict) -> str:
    article = "an" if verdict.source[0] in "aeiou" else "a"
    why = (f"with an explicit deny in {article} {verdict.source}"
           if verdict.decision == iam_eval.DENY
           else f"because no {verdict.source} allows the {action} action")
    return (f"User: {identity.arn} is not authorized to perform: {action} on resource: "
            f"{verdict.resource} {why}")


def _denial(asked: iam_request.Asked, identity: Identity, verdict: iam_eval.Verdict):
    code = "AccessDeniedException"
    if asked.service in ("sqs", "iam", "sts", "s3"):
        code = "AccessDenied"
    elif asked.service == "ec2":
        code = "UnauthorizedOperation"
    return _in_cbor(asked, _error(asked, code, message(identity, asked.action, verdict)))


def _error(asked: iam_request.Asked, code: str, text: str) -> tuple[str, list, bytes]:
    request_id = str(uuid.uuid4())
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if asked.service == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{escaped}</Message><RequestId>{request_id}</RequestId>"
                f"<HostId>{request_id}</HostId></Error>").encode()
        return "403 Forbidden", [("Content-Type", "application/xml")], body
    if asked.service == "lambda":
        return "403 Forbidden", [("Content-Type", "application/json"),
                                 ("x-amzn-ErrorType", code)], \
            json.dumps({"Type": "User", "Message": text}).encode()
    if asked.service in ("dynamodb", "kinesis", "logs", "ssm", "kms", "events") \
            or (asked.service == "sqs" and asked.params is not None and not asked.params.get(
                "Action")):
        return _json_error(asked, code, text)
    if asked.service == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{escaped}</Message>"
                f"</Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
        return "403 Forbidden", [("Content-Type", "text/xml")], body
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escaped}"
            f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
    return "403 Forbidden", [("Content-Type", "text/xml")], body


def _json_error(asked: iam_request.Asked, code: str, text: str):
    namespace = {"dynamodb": "com.amazonaws.dynamodb.v20120810#", "sqs": "com.amazonaws.sqs#"
                 }.get(asked.service, "")
    body = json.dumps({"__type": namespace + code, "message": text}).encode()
    content = "application/x-amz-json-1.0" if asked.service in ("dynamodb", "sqs") \
        else "application/x-amz-json-1.1"
    headers = [("Content-Type", content)]
    if asked.service == "dynamodb":
        headers.append(("x-amz-crc32", str(zlib.crc32(body))))
    if asked.service == "sqs":  # the JSON protocol's pointer back to the query error code
        headers.append(("x-amzn-query-error", f"{code};Sender"))
    # SQS says AccessDenied with 403, as its query protocol does; the others with 400.
    return ("403 Forbidden" if asked.service == "sqs" else "400 Bad Request"), headers, body


def _in_cbor(asked: iam_request.Asked, reply: tuple[str, list, bytes]):
    if not asked.cbor:
        return reply
    from orderhist.emulator.wire import cbor_reply

    made = cbor_reply(asked.target, reply[0], reply[2])
    return made.status, made.headers, made.body


def _send(start_response, reply: tuple[str, list, bytes]):
    status, headers, body = reply
    start_response(status, headers + [("Content-Length", str(len(body))),
                                      ("x-amzn-RequestId", str(uuid.uuid4()))])
    return [body]

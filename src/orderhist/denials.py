"""What IAM refused the local components, for `orderhist status`: the agent's and the
runtime's last errors read for AWS's AccessDenied message ("... is not authorized to perform:
<action> on resource: <arn> ..."), so a wrong policy is named where the user looks first."""
from __future__ import annotations

import re

_DENIED = re.compile(r"(?:User: (?P<who>\S+) )?is not authorized to perform: (?P<action>\S+)"
                     r"(?: on resource: (?P<resource>\S+))?")


def denied_in(text: str | None) -> dict | None:
    """The caller, action and resource of an AccessDenied message inside `text`, or None."""
    match = _DENIED.search(text or "")
    if match is None:
        return None
    return {"principal": match.group("who"), "action": match.group("action"),
            "resource": match.group("resource")}


def denials(agent: dict | None, runtime: dict | None) -> list[dict]:
    """One entry per component whose latest error is a denial it has not got past since:
    the agent until it sends again; the runtime's shards (and its own error) by their last
    error, which a later error replaces."""
    found = []
    agent = agent or {}
    refused = denied_in(agent.get("last_error"))
    if refused and (agent.get("last_sent_at") or "") <= (agent.get("last_error_at") or ""):
        found.append({"component": "agent", **refused, "at": agent.get("last_error_at")})
    runtime = runtime or {}
    seen = set()
    for shard in runtime.get("shards") or []:
        refused = denied_in(shard.get("last_error"))
        if refused and (shard.get("last_done_at") or "") > (shard.get("last_error_at") or ""):
            refused = None  # records were done since: got past it
        if refused and (refused["action"], refused["resource"]) not in seen:
            seen.add((refused["action"], refused["resource"]))
            found.append({"component": "runtime", "shard": shard.get("shard"), **refused,
                          "at": shard.get("last_error_at")})
    refused = denied_in(runtime.get("last_error")) if not runtime.get("shards") else None
    if refused and (refused["action"], refused["resource"]) not in seen:
        found.append({"component": "runtime", **refused, "at": runtime.get("last_error_at")})
    return found

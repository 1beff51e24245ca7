"""`orderhist env`: the shell lines that point the AWS CLI and any boto3 script at this
home's stack, e.g. `eval "$(orderhist env)"`.

Local target: the emulator's endpoint (AWS_ENDPOINT_URL, which the AWS CLI and boto3 honour
for every service), the account root's key the emulator accepts, and the region; the shell's
session token and profile are unset so neither a real role's token nor a profile's own
endpoint or keys slip into the calls. AWS target: the region and the profile the stack was
made with.
"""
from __future__ import annotations

from orderhist import aws
from orderhist.errors import OrderhistError
from orderhist.state import StackState

SHELLS = ("sh", "fish", "powershell")
UNSET_LOCAL = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def variables(state: StackState) -> tuple[dict[str, str], list[str]]:
    """(what to set, what to unset)."""
    region = state.region
    if state.kind == aws.LOCAL:
        endpoint = state.endpoint
        if not endpoint:
            raise OrderhistError("the local stack has no endpoint yet: run `orderhist up`")
        return ({"AWS_ENDPOINT_URL": endpoint,
                 "AWS_ACCESS_KEY_ID": aws.LOCAL_ACCESS_KEY,
                 "AWS_SECRET_ACCESS_KEY": aws.LOCAL_SECRET_KEY,
                 "AWS_REGION": region, "AWS_DEFAULT_REGION": region}, list(UNSET_LOCAL))
    found = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    if state.profile:
        found["AWS_PROFILE"] = state.profile
    if state.endpoint:  # an AWS-compatible endpoint (`up --endpoint-url`)
        found["AWS_ENDPOINT_URL"] = state.endpoint
    return found, []


def _quote(shell: str, value: str) -> str:
    if shell == "powershell":
        return "'" + value.replace("'", "''") + "'"
    if shell == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "'\"'\"'") + "'"


def render(state: StackState, shell: str = "sh") -> str:
    setting, unsetting = variables(state)
    lines = []
    for name in unsetting:
        lines.append({"sh": f"unset {name}", "fish": f"set -e {name}",
                      "powershell": f"Remove-Item Env:{name} -ErrorAction SilentlyContinue"}[shell])
    for name, value in setting.items():
        quoted = _quote(shell, value)
        lines.append({"sh": f"export {name}={quoted}", "fish": f"set -gx {name} {quoted}",
                      "powershell": f"$Env:{name} = {quoted}"}[shell])
    comment = {"sh": "#", "fish": "#", "powershell": "#"}[shell]
    how = {"sh": 'eval "$(orderhist env)"', "fish": "orderhist env --shell fish | source",
           "powershell": "orderhist env --shell powershell | Invoke-Expression"}[shell]
    return "\n".join([f"{comment} orderhist stack {state.prefix!r} "
                      f"({state.kind}, {state.region}): {how}", *lines]) + "\n"


def for_home(home, shell: str = "sh") -> tuple[str, bool]:
    """`orderhist env`: the lines for the stack of `home`, and whether its local emulator is
    down (the lines are right for when it runs again; the user should know it does not now)."""
    from orderhist import emulator
    from orderhist.state import require_state

    state = require_state(home)
    stopped = state.kind == aws.LOCAL and not emulator.is_healthy(state.endpoint)
    return render(state, shell), stopped

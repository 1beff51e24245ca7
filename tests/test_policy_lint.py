"""Every policy orderhist writes passes parliament (the IAM policy linter) with no finding:
the roles' permission policies as they are, with the community auditors too. A role's trust
policy is a resource policy that IAM refuses with a Resource element ("Has prohibited field
Resource"), which parliament, an identity-policy linter, reports as MALFORMED; that one
finding is the only one allowed there."""
from __future__ import annotations

import json

import parliament
import pytest

from helpers.policies import documents

TRUST_WITHOUT_RESOURCE = "Statement contains neither Resource nor NotResource"


def findings(document: dict) -> list:
    analysed = parliament.analyze_policy_string(json.dumps(document),
                                                include_community_auditors=True)
    return [(f.issue, f.detail, f.location) for f in analysed.findings]


@pytest.mark.parametrize("name", ["ingest", "host"])
def test_permission_policies_have_no_finding(name):
    assert findings(documents()[name]) == []


@pytest.mark.parametrize("name", ["lambda trust", "ec2 trust"])
def test_trust_policies_have_no_finding_but_their_required_lack_of_resource(name):
    document = documents()[name]
    assert [(issue, detail) for issue, detail, _ in findings(document)] == [
        ("MALFORMED", TRUST_WITHOUT_RESOURCE)]

"""Policy fidelity with boto3 and aws-cli: IAM's and AWS IoT's own messages for invalid policy
documents, and the simulator's answers on the evaluation rules of issue 13.

* A refused document answers `MalformedPolicyDocument` (IAM) or `MalformedPolicyException`
  (AWS IoT) with AWS's short wording, word for word, changes nothing, and the audit line carries
  our detailed explanation under the same request id.
* `SimulateCustomPolicy` answers a decision for conditions whose values are not of their
  operator's type (instead of `InvalidInput`), compares dates given as ISO 8601 and as epoch
  seconds, and applies permissions boundaries (`PermissionsBoundaryPolicyInputList`, a role's
  own boundary in `SimulatePrincipalPolicy`) as IAM documents them, including a resource policy
  that names the caller's own ARN.

The rows of the message tables and where each wording was observed are in
`crates/iotcreds-policy/tests/kat/validation.json`.
"""

import json

import pytest


BUCKET = "adc-test-2020-08-26"
ROLE = "ADCTestRole"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def account_of(server):
    return server.boto3_client("sts").get_caller_identity()["Account"]


def doc(*statements, version="2012-10-17"):
    d = {"Statement": list(statements)}
    if version:
        d["Version"] = version
    return json.dumps(d)


def stmt(**kw):
    s = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    for k, v in kw.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    return s


def refused(client, exception, call, **kwargs):
    """Call, expect `exception` with HTTP 400, return (message, request id)."""
    with pytest.raises(getattr(client.exceptions, exception)) as info:
        call(**kwargs)
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    return response["Error"]["Message"], response["ResponseMetadata"]["RequestId"]


# -- IAM: MalformedPolicyDocument, word for word -------------------------------------------------

MANAGED = [
    ("not JSON", "{not json", "Syntax errors in policy."),
    ("no Version", doc(stmt(), version=None), "Policy document must be version 2012-10-17 or greater."),
    ("Version 2008-10-17", doc(stmt(), version="2008-10-17"), "Policy document must be version 2012-10-17 or greater."),
    ("unknown Version", doc(stmt(), version="2013-10-17"), "Syntax errors in policy."),
    ("no Statement", json.dumps({"Version": "2012-10-17"}), "Syntax errors in policy."),
    ("null in Action", doc(stmt(Action=["s3:GetObject", None])), "Syntax errors in policy."),
    ("effect in lower case", doc(stmt(Effect="allow")), "The policy failed legacy parsing"),
    ("Sid with an underscore", doc(stmt(Sid="Read_Only")),
     "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"),
    ("Sid twice", doc(stmt(Sid="A"), stmt(Sid="A")), "Statement IDs (SID) in a single policy must be unique."),
    ("no Action", doc(stmt(Action=None)), "Policy statement must contain actions."),
    ("no Resource", doc(stmt(Resource=None)), "Policy statement must contain resources."),
    ("action without service", doc(stmt(Action="GetObject")),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    ("action with two colons", doc(stmt(Action="s3:Get:Object")), "Actions/Condition can contain only one colon."),
    ("bad service prefix", doc(stmt(Action="s 3:GetObject")), "Vendor s 3 is not valid"),
    ("resource not an ARN", doc(stmt(Resource="bucket")), 'Resource bucket must be in ARN format or "*".'),
    ("partition", doc(stmt(Resource="arn:aws-cn:s3:::b/*")), 'Partition "aws-cn" is not valid for resource "arn:aws-cn:s3:::b/*".'),
    ("S3 ARN with a region", doc(stmt(Resource="arn:aws:s3:ap-northeast-1::b/*")),
     "Resource arn:aws:s3:ap-northeast-1::b/* can not contain region information."),
    ("IAM ARN with a region", doc(stmt(Action="iam:GetUser", Resource="arn:aws:iam:ap-northeast-1::user/x")),
     "IAM resource arn:aws:iam:ap-northeast-1::user/x cannot contain region information."),
    ("IAM resource type", doc(stmt(Action="iam:GetUser", Resource="arn:aws:iam::123456789012:widget/x")),
     'IAM resource path must either be "*", root, or start with user/, federated-user/, role/, group/, instance-profile/, '
     "mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/."),
    ("Principal in an identity policy", doc(stmt(Principal="*")), "Policy document should not specify a principal."),
    ("date that is not a date", doc(stmt(Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-*"}})),
     "The policy failed legacy parsing"),
]


@pytest.mark.parametrize("case,document,message", MANAGED, ids=[c[0] for c in MANAGED])
def test_create_policy_answers_iams_message(server, iam, case, document, message):
    got, request_id = refused(iam, "MalformedPolicyDocumentException", iam.create_policy,
                              PolicyName="ADCTestPolicy", PolicyDocument=document)
    assert got == message
    assert iam.list_policies()["Policies"] == []
    # Our explanation is on the audit line of that request, not in the answer.
    events = server.wait_for_audit(lambda ev: any(e.get("request_id") == request_id for e in ev))
    line = next(e for e in events if e.get("request_id") == request_id)
    assert line["event"] == "refused" and line["code"] == "MalformedPolicyDocument"
    assert line["message"] == message and line["detail"].startswith(f"MalformedPolicyDocument: {message}")


def test_inline_and_trust_policies(server, iam):
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    # Inline policies may omit Version (variables are then literal); managed ones may not.
    iam.put_role_policy(RoleName=ROLE, PolicyName="legacy", PolicyDocument=doc(stmt(), version=None))
    got, _ = refused(iam, "MalformedPolicyDocumentException", iam.put_role_policy, RoleName=ROLE,
                     PolicyName="p", PolicyDocument=doc(stmt(Resource="arn:aws-us-gov:s3:::b")))
    assert got == 'Partition "aws-us-gov" is not valid for resource "arn:aws-us-gov:s3:::b".'
    trusts = [
        ({**TRUST["Statement"][0], "Action": ["sts:AssumeRole", "s3:GetObject"]},
         "AssumeRole policy may only specify STS AssumeRole actions."),
        ({**TRUST["Statement"][0], "Action": "sts:TagSessions"}, "AssumeRole policy may only specify STS AssumeRole actions."),
        ({**TRUST["Statement"][0], "Resource": "*"}, "Has prohibited field Resource"),
        ({"Effect": "Allow", "Action": "sts:AssumeRole"},
         "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
         "The passed in policy has a statement with no principals!"),
        ({**TRUST["Statement"][0], "Principal": {"Service": "amazonaws.com"}}, 'Invalid principal in policy: "SERVICE":"amazonaws.com"'),
        ({**TRUST["Statement"][0], "Principal": {"AWS": "arn:aws:iam::123456789012:role/*"}},
         'Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"'),
    ]
    for statement, message in trusts:
        got, _ = refused(iam, "MalformedPolicyDocumentException", iam.update_assume_role_policy,
                         RoleName=ROLE, PolicyDocument=doc(statement))
        assert got == message, statement
        got, _ = refused(iam, "MalformedPolicyDocumentException", iam.create_role,
                         RoleName="Other", AssumeRolePolicyDocument=doc(statement))
        assert got == message, statement
    assert iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"] == TRUST
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == [ROLE]
    # What a trust policy may say: the assume-role actions and the principal forms IAM names.
    account = account_of(server)
    good = {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Principal": {"AWS": [account, f"arn:aws:iam::{account}:root", f"arn:aws:iam::{account}:user/alice"],
                          "Service": "credentials.iot.amazonaws.com"}}
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=doc(good))


def test_aws_cli_shows_iams_message(server):
    proc = server.aws("iam", "create-policy", "--policy-name", "P", "--policy-document",
                      doc(stmt(Resource="arn:aws-cn:s3:::b/*")), check=False)
    assert proc.returncode != 0
    assert ('An error occurred (MalformedPolicyDocument) when calling the CreatePolicy operation: '
            'Partition "aws-cn" is not valid for resource "arn:aws-cn:s3:::b/*".') in proc.stderr
    proc = server.aws("iam", "create-role", "--role-name", ROLE, "--assume-role-policy-document",
                      doc({**TRUST["Statement"][0], "Action": "s3:*"}), check=False)
    assert proc.returncode != 0
    assert "MalformedPolicyDocument) when calling the CreateRole operation: AssumeRole policy may only specify STS AssumeRole actions." in proc.stderr


# -- AWS IoT: MalformedPolicyException ------------------------------------------------------------


def test_iot_create_policy_answers_iots_message(server, iot):
    cases = [
        ('{"Version": "2012-10-17", "Statement": ', "Policy document is Malformed: Invalid policy syntax."),
        (doc({"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}, version=None),
         "Policy document is Malformed: Invalid policy syntax."),
        (doc({"Effect": "Allow", "Action": "iot:Connect", "Resource": "client/sensor"}),
         "Policy document is Malformed: The following resources are invalid : client/sensor"),
    ]
    for document, message in cases:
        got, request_id = refused(iot, "MalformedPolicyException", iot.create_policy,
                                  policyName="ADCTestPolicy", policyDocument=document)
        assert got == message
        events = server.wait_for_audit(lambda ev: any(e.get("request_id") == request_id for e in ev))
        assert next(e for e in events if e.get("request_id") == request_id)["detail"]
    assert iot.list_policies()["policies"] == []
    proc = server.aws("iot", "create-policy", "--policy-name", "ADCTestPolicy", "--policy-document", cases[1][0], check=False)
    assert "MalformedPolicyException" in proc.stderr and "Policy document is Malformed: Invalid policy syntax." in proc.stderr
    # Values a condition operator cannot read are accepted (they never match), as in IAM.
    ok = doc({"Effect": "Allow", "Action": "iot:Connect", "Resource": "*",
              "Condition": {"NumericLessThan": {"iot:ConnectionCount": "many"}}})
    assert iot.create_policy(policyName="ADCTestPolicy", policyDocument=ok)["policyName"] == "ADCTestPolicy"


# -- the simulator on the new semantics -----------------------------------------------------------


def context(*entries):
    return [{"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": t} for k, v, t in entries]


def decisions(results):
    return {r["EvalActionName"]: r["EvalDecision"] for r in results}


def test_simulate_invalid_condition_values_answer_a_decision(server, iam):
    policy = doc(
        stmt(Action="s3:ListBucket", Resource="*", Condition={"NumericLessThan": {"s3:max-keys": "ten"}}),
        stmt(Action="s3:GetObject", Resource="*", Condition={"NotIpAddress": {"aws:SourceIp": "not-a-cidr"}}),
        stmt(Action="s3:PutObject", Resource="*", Condition={"DateEquals": {"aws:CurrentTime": "1577836800"}}),
        stmt(Action="s3:DeleteObject", Resource="*", Condition={"DateGreaterThan": {"aws:EpochTime": "2019-12-31T23:59:59Z"}}),
        stmt(Action="s3:GetObjectTagging", Resource="*", Condition={"NumericNotEquals": {"s3:max-keys": "10"}}),
    )
    ctx = context(("s3:max-keys", "5", "numeric"), ("aws:SourceIp", "203.0.113.7", "ip"),
                  ("aws:CurrentTime", "2020-01-01T00:00:00Z", "date"), ("aws:EpochTime", "1577836800", "date"))
    results = iam.simulate_custom_policy(
        PolicyInputList=[policy], ContextEntries=ctx,
        ActionNames=["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging"],
    )["EvaluationResults"]
    assert decisions(results) == {
        "s3:ListBucket": "implicitDeny",        # "ten" is not a number: the condition does not match
        "s3:GetObject": "implicitDeny",         # nor does its negation with a value that is not a CIDR
        "s3:PutObject": "allowed",              # epoch seconds in the policy, ISO 8601 in the request
        "s3:DeleteObject": "allowed",           # ISO 8601 in the policy, epoch seconds in the request
        "s3:GetObjectTagging": "allowed",       # 5 is not 10
    }
    # Missing keys: negated operators hold, positive ones do not, and the keys are reported.
    out = server.aws("iam", "simulate-custom-policy", "--policy-input-list", policy,
                     "--action-names", "s3:GetObjectTagging", "s3:GetObject")["EvaluationResults"]
    by_action = {r["EvalActionName"]: r for r in out}
    assert by_action["s3:GetObjectTagging"]["EvalDecision"] == "allowed"
    assert by_action["s3:GetObjectTagging"]["MissingContextValues"] == ["s3:max-keys"]
    assert by_action["s3:GetObject"]["EvalDecision"] == "allowed"  # NotIpAddress, key missing
    # A document that is not a policy at all is still refused.
    with pytest.raises(iam.exceptions.InvalidInputException):
        iam.simulate_custom_policy(PolicyInputList=["{"], ActionNames=["s3:GetObject"])


def test_simulate_with_permissions_boundaries(server, iam):
    account = account_of(server)
    everything = doc(stmt(Action="s3:*", Resource="*"))
    boundary = doc(stmt(Action="s3:GetObject", Resource="*"), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    results = iam.simulate_custom_policy(PolicyInputList=[everything], PermissionsBoundaryPolicyInputList=[boundary],
                                         ActionNames=actions)["EvaluationResults"]
    assert decisions(results) == {"s3:GetObject": "allowed", "s3:PutObject": "implicitDeny", "s3:DeleteObject": "explicitDeny"}
    deny = next(r for r in results if r["EvalActionName"] == "s3:DeleteObject")
    assert deny["MatchedStatements"] == [{"SourcePolicyId": "PermissionsBoundaryPolicyInputList.1", "SourcePolicyType": "none"}]

    # A resource policy naming the caller's own ARN grants past the boundary's implicit deny;
    # one naming the account does not.
    user_arn = f"arn:aws:iam::{account}:user/alice"
    for principal, expected in [({"AWS": user_arn}, "allowed"), ({"AWS": account}, "implicitDeny")]:
        bucket_policy = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": principal, "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]})
        r = iam.simulate_custom_policy(PolicyInputList=[doc(stmt(Action="s3:GetObject"))],
                                       PermissionsBoundaryPolicyInputList=[boundary], ResourcePolicy=bucket_policy,
                                       CallerArn=user_arn, ActionNames=["s3:PutObject"],
                                       ResourceArns=[f"arn:aws:s3:::{BUCKET}/k"])["EvaluationResults"][0]
        assert r["EvalDecision"] == expected, principal

    # SimulatePrincipalPolicy uses the role's own boundary; a boundary given in the call replaces it.
    b_arn = iam.create_policy(PolicyName="Boundary", PolicyDocument=boundary)["Policy"]["Arn"]
    role_arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary=b_arn)["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE, PolicyName="all", PolicyDocument=everything)
    results = iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=actions)["EvaluationResults"]
    assert decisions(results) == {"s3:GetObject": "allowed", "s3:PutObject": "implicitDeny", "s3:DeleteObject": "explicitDeny"}
    results = iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=actions,
                                            PermissionsBoundaryPolicyInputList=[everything])["EvaluationResults"]
    assert decisions(results) == {a: "allowed" for a in actions}
    out = server.aws("iam", "simulate-principal-policy", "--policy-source-arn", role_arn,
                     "--action-names", "s3:PutObject", "--permissions-boundary-policy-input-list", everything)
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"

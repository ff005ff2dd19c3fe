"""AWS's error codes and messages, word for word, where AWS has a wording: scripts and tests
written against AWS match on them. Each refusal also changes nothing. Driven by boto3 and
aws-cli; the registry's reasons are typed (iotcreds_store::ConflictReason, LimitKind,
StateReason), mapped once per edge."""

import json

import pytest
from botocore.exceptions import ClientError

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})
S3_READ = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::adc-test-2020-08-26/*"}],
})
IOT_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate",
                   "Resource": "*"}],
})


def refused(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response["Error"]
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err["Message"]


def test_deleting_an_active_certificate(server, iot):
    cert = iot.create_keys_and_certificate(setAsActive=True)
    cid = cert["certificateId"]
    assert refused(iot.delete_certificate, certificateId=cid) == (
        406, "CertificateStateException",
        "Certificate must be deactivated (not ACTIVE) before deletion.")
    assert iot.describe_certificate(certificateId=cid)["certificateDescription"]["status"] == "ACTIVE"
    # aws-cli reads the same answer.
    proc = server.aws("iot", "delete-certificate", "--certificate-id", cid, check=False)
    assert proc.returncode != 0
    assert "CertificateStateException" in proc.stderr
    assert "Certificate must be deactivated (not ACTIVE) before deletion." in proc.stderr


def test_deleting_a_certificate_still_attached_to_a_thing_or_a_policy(iot):
    cert = iot.create_keys_and_certificate(setAsActive=False)
    cid, arn = cert["certificateId"], cert["certificateArn"]
    iot.create_thing(thingName="ADCTestThing")
    iot.attach_thing_principal(thingName="ADCTestThing", principal=arn)
    assert refused(iot.delete_certificate, certificateId=cid) == (
        409, "DeleteConflictException", f"Things must be detached before deletion (arn: {arn})")
    # forceDelete detaches policies, never things.
    assert refused(iot.delete_certificate, certificateId=cid, forceDelete=True) == (
        409, "DeleteConflictException", f"Things must be detached before deletion (arn: {arn})")
    iot.detach_thing_principal(thingName="ADCTestThing", principal=arn)
    iot.create_policy(policyName="ADCTestPolicy", policyDocument=IOT_POLICY)
    iot.attach_policy(policyName="ADCTestPolicy", target=arn)
    assert refused(iot.delete_certificate, certificateId=cid) == (
        409, "DeleteConflictException",
        f"Certificate policies must be detached before deletion (arn: {arn})")
    assert iot.list_targets_for_policy(policyName="ADCTestPolicy")["targets"] == [arn]
    iot.delete_certificate(certificateId=cid, forceDelete=True)
    assert iot.list_targets_for_policy(policyName="ADCTestPolicy")["targets"] == []


def test_deleting_an_attached_iot_policy_and_one_with_versions(iot):
    iot.create_policy(policyName="ADCTestPolicy", policyDocument=IOT_POLICY)
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName="ADCTestPolicy", target=cert["certificateArn"])
    assert refused(iot.delete_policy, policyName="ADCTestPolicy") == (
        409, "DeleteConflictException",
        "The policy cannot be deleted as the policy is attached to one or more principals "
        "(name=ADCTestPolicy)")
    iot.detach_policy(policyName="ADCTestPolicy", target=cert["certificateArn"])
    iot.create_policy_version(policyName="ADCTestPolicy", policyDocument=IOT_POLICY, setAsDefault=True)
    status, code, _ = refused(iot.delete_policy, policyName="ADCTestPolicy")
    assert (status, code) == (409, "DeleteConflictException")
    assert len(iot.list_policy_versions(policyName="ADCTestPolicy")["policyVersions"]) == 2


def test_iot_policy_version_limit_names_the_enforced_limit(iot):
    iot.create_policy(policyName="ADCTestPolicy", policyDocument=IOT_POLICY)
    for _ in range(4):
        iot.create_policy_version(policyName="ADCTestPolicy", policyDocument=IOT_POLICY)
    assert refused(iot.create_policy_version, policyName="ADCTestPolicy", policyDocument=IOT_POLICY) == (
        409, "VersionsLimitExceededException",
        "The policy ADCTestPolicy already has the maximum number of versions (5).")
    assert len(iot.list_policy_versions(policyName="ADCTestPolicy")["policyVersions"]) == 5


def test_deleting_an_iam_user_in_use(iam):
    iam.create_user(UserName="ADCTestUser")
    iam.create_access_key(UserName="ADCTestUser")
    assert refused(iam.delete_user, UserName="ADCTestUser") == (
        409, "DeleteConflict", "Cannot delete entity, must delete access keys first.")
    for k in iam.list_access_keys(UserName="ADCTestUser")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="ADCTestUser", AccessKeyId=k["AccessKeyId"])
    iam.put_user_policy(UserName="ADCTestUser", PolicyName="inline", PolicyDocument=S3_READ)
    assert refused(iam.delete_user, UserName="ADCTestUser") == (
        409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_user_policy(UserName="ADCTestUser", PolicyName="inline")
    arn = iam.create_policy(PolicyName="ADCTestPolicy", PolicyDocument=S3_READ)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="ADCTestUser", PolicyArn=arn)
    assert refused(iam.delete_user, UserName="ADCTestUser") == (
        409, "DeleteConflict", "Cannot delete entity, must detach all policies first.")
    assert refused(iam.delete_policy, PolicyArn=arn) == (
        409, "DeleteConflict", "Cannot delete a policy attached to entities.")
    iam.detach_user_policy(UserName="ADCTestUser", PolicyArn=arn)
    iam.create_login_profile(UserName="ADCTestUser", Password="Correct-Horse-9-Battery")
    assert refused(iam.delete_user, UserName="ADCTestUser") == (
        409, "DeleteConflict", "Cannot delete entity, must delete login profile first.")
    assert iam.get_user(UserName="ADCTestUser")["User"]["UserName"] == "ADCTestUser"


def test_iam_quotas_and_versions(iam):
    iam.create_user(UserName="ADCTestUser")
    iam.create_access_key(UserName="ADCTestUser")
    iam.create_access_key(UserName="ADCTestUser")
    assert refused(iam.create_access_key, UserName="ADCTestUser") == (
        409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    assert len(iam.list_access_keys(UserName="ADCTestUser")["AccessKeyMetadata"]) == 2
    arn = iam.create_policy(PolicyName="ADCTestPolicy", PolicyDocument=S3_READ)["Policy"]["Arn"]
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=S3_READ)
    status, code, message = refused(iam.create_policy_version, PolicyArn=arn, PolicyDocument=S3_READ)
    assert (status, code) == (409, "LimitExceeded")
    assert message.startswith("A managed policy can have up to 5 versions.")
    assert refused(iam.delete_policy, PolicyArn=arn) == (
        409, "DeleteConflict",
        "This policy has more than one version. Before you delete a policy, you must delete the "
        "policy's versions. The default version is deleted with the policy.")
    assert refused(iam.delete_policy_version, PolicyArn=arn, VersionId="v1") == (
        409, "DeleteConflict", "Cannot delete the default version of a policy.")


def test_deleting_a_role_in_use(iam):
    iam.create_role(RoleName="ADCTestRole", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="ADCTestRole", PolicyName="inline", PolicyDocument=S3_READ)
    assert refused(iam.delete_role, RoleName="ADCTestRole") == (
        409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
    assert iam.get_role(RoleName="ADCTestRole")["Role"]["Arn"].endswith(":role/ADCTestRole")

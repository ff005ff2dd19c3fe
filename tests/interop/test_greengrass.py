"""The set-up sequence the Greengrass nucleus installer performs (`--provision true
--setup-tes true`, GG-nucleus DeviceProvisioningHelper; spec §9), with boto3 as the installer's
AWS SDK calls, then the token exchange service's credentials request."""

import json

import pytest
from botocore.exceptions import ClientError

THING = "GreengrassCore1"
ALIAS = "GreengrassV2TokenExchangeRoleAlias"
ROLE = "GreengrassV2TokenExchangeRole"


def test_greengrass_installer_sequence(server, tmp_path):
    iot = server.boto3_client("iot")
    iam = server.boto3_client("iam")
    thing_policy = "GreengrassV2IoTThingPolicy"

    # 1. The thing policy: probe, then create.
    with pytest.raises(ClientError) as e:
        iot.get_policy(policyName=thing_policy)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    iot.create_policy(policyName=thing_policy, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive", "iot:Connect",
                                                      "greengrass:*"], "Resource": "*"}]}))

    # 2. Endpoints.
    data = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    creds_host = iot.describe_endpoint(endpointType="iot:CredentialProvider")["endpointAddress"]
    assert data and creds_host == f"localhost:{server.credentials_port}"

    # 3. Certificate, policy, thing, attachment.
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName=thing_policy, target=cert["certificateArn"])
    iot.create_thing(thingName=THING)
    iot.attach_thing_principal(thingName=THING, principal=cert["certificateArn"])

    # 4. Role alias: probe; role: probe, create with the credentials trust policy; alias.
    with pytest.raises(ClientError) as e:
        iot.describe_role_alias(roleAlias=ALIAS)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=ROLE)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]
    alias = iot.create_role_alias(roleAlias=ALIAS, roleArn=role["Arn"])
    assert iot.describe_role_alias(roleAlias=ALIAS)["roleAliasDescription"]["credentialDurationSeconds"] == 3600

    # 5. The TES certificate policy: probe, create, attach.
    tes_policy = f"GreengrassTESCertificatePolicy{ALIAS}"
    with pytest.raises(ClientError):
        iot.get_policy(policyName=tes_policy)
    iot.create_policy(policyName=tes_policy, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": alias["roleAliasArn"]}}))
    iot.attach_policy(policyName=tes_policy, target=cert["certificateArn"])

    # 6. The role's permissions: probe the managed policy, create, attach.
    account = server.boto3_client("sts").get_caller_identity()["Account"]
    access_arn = f"arn:aws:iam::{account}:policy/{ROLE}Access"
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=access_arn)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    made = iam.create_policy(PolicyName=f"{ROLE}Access", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:PutLogEvents", "s3:GetBucketLocation"],
                       "Resource": "*"}]}))["Policy"]
    assert made["Arn"] == access_arn
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=access_arn)

    # 7. The device's token exchange service asks for credentials.
    (tmp_path / "c.pem").write_text(cert["certificatePem"])
    (tmp_path / "k.pem").write_text(cert["keyPair"]["PrivateKey"])
    status, _, body = server.curl_credentials(tmp_path / "c.pem", tmp_path / "k.pem", ALIAS, THING)
    assert status == 200, body
    creds = json.loads(body)["credentials"]
    sts = server.boto3_client("sts", creds={"AccessKeyId": creds["accessKeyId"], "SecretAccessKey": creds["secretAccessKey"],
                                            "SessionToken": creds["sessionToken"]})
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{account}:assumed-role/{ROLE}/{cert['certificateId']}"

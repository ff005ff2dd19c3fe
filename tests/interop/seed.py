"""The seed's set-up, as the walkthrough does it: with aws-cli v1 or with boto3 clients."""

import json
import pathlib

from conftest import BUCKET, REGION

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

S3_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{BUCKET}/*"},
    ],
}


def assume_policy(alias_arn):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:AssumeRoleWithCertificate", "Resource": alias_arn}]}


def seed_with_aws_cli(server, workdir, role_policy=S3_READ, thing="ADCTestThing", role="ADCTestRole",
                      alias="ADCTestRoleAlias", policy="ADCTestPolicy", create_role=True):
    """Steps 1–4 of the seed with aws-cli only; returns paths and names for the device."""
    work = pathlib.Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "trust.json").write_text(json.dumps(TRUST))
    (work / "s3policy.json").write_text(json.dumps(role_policy))
    if create_role:
        server.aws("iam", "create-role", "--role-name", role, "--assume-role-policy-document", f"file://{work / 'trust.json'}")
        server.aws("iam", "put-role-policy", "--role-name", role, "--policy-name", f"{role}S3",
                   "--policy-document", f"file://{work / 's3policy.json'}")
    role_arn = server.aws("iam", "get-role", "--role-name", role)["Role"]["Arn"]
    made_alias = server.aws("iot", "create-role-alias", "--role-alias", alias, "--role-arn", role_arn)
    (work / "iotpolicy.json").write_text(json.dumps(assume_policy(made_alias["roleAliasArn"])))
    server.aws("iot", "create-policy", "--policy-name", policy, "--policy-document", f"file://{work / 'iotpolicy.json'}")
    server.aws("iot", "create-thing", "--thing-name", thing)
    cert = server.aws("iot", "create-keys-and-certificate", "--set-as-active",
                      "--certificate-pem-outfile", "cert.pem", "--private-key-outfile", "private.key", cwd=str(work))
    server.aws("iot", "attach-policy", "--policy-name", policy, "--target", cert["certificateArn"])
    server.aws("iot", "attach-thing-principal", "--thing-name", thing, "--principal", cert["certificateArn"])
    endpoint = server.aws("iot", "describe-endpoint", "--endpoint-type", "iot:CredentialProvider")["endpointAddress"]
    return {
        "cert": work / "cert.pem",
        "key": work / "private.key",
        "certificate_id": cert["certificateId"],
        "certificate_arn": cert["certificateArn"],
        "endpoint": endpoint,
        "role_arn": role_arn,
        "alias": alias,
        "thing": thing,
    }


def seed_with_boto3(server, workdir, role_policy=S3_READ):
    """Steps 1–4 of the seed with boto3 clients only."""
    work = pathlib.Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    iam = server.boto3_client("iam")
    iot = server.boto3_client("iot")
    role = iam.create_role(RoleName="ADCTestRole", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    iam.put_role_policy(RoleName="ADCTestRole", PolicyName="ADCTestRoleS3", PolicyDocument=json.dumps(role_policy))
    alias = iot.create_role_alias(roleAlias="ADCTestRoleAlias", roleArn=role["Arn"])
    iot.create_policy(policyName="ADCTestPolicy", policyDocument=json.dumps(assume_policy(alias["roleAliasArn"])))
    iot.create_thing(thingName="ADCTestThing")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    (work / "cert.pem").write_text(cert["certificatePem"])
    (work / "private.key").write_text(cert["keyPair"]["PrivateKey"])
    (work / "private.key").chmod(0o600)
    iot.attach_policy(policyName="ADCTestPolicy", target=cert["certificateArn"])
    iot.attach_thing_principal(thingName="ADCTestThing", principal=cert["certificateArn"])
    endpoint = iot.describe_endpoint(endpointType="iot:CredentialProvider")["endpointAddress"]
    return {"cert": work / "cert.pem", "key": work / "private.key", "certificate_id": cert["certificateId"],
            "certificate_arn": cert["certificateArn"], "endpoint": endpoint, "role_arn": role["Arn"],
            "alias": "ADCTestRoleAlias", "thing": "ADCTestThing"}


def make_bucket_with_test_file(server, workdir, content=b"Hello from adc-test-2020-08-26\n"):
    """The administrator's bucket and test.txt (aws-cli, root key)."""
    path = pathlib.Path(workdir) / "upload-test.txt"
    path.write_bytes(content)
    server.aws("s3", "mb", f"s3://{BUCKET}")
    server.aws("s3", "cp", str(path), f"s3://{BUCKET}/test.txt")
    return content


def device_credentials(server, device):
    """Step 5: curl with the device's certificate; returns the credentials as aws env values."""
    status, _, body = server.curl_credentials(device["cert"], device["key"], device["alias"], device["thing"])
    assert status == 200, body
    c = json.loads(body)["credentials"]
    return {"AccessKeyId": c["accessKeyId"], "SecretAccessKey": c["secretAccessKey"], "SessionToken": c["sessionToken"],
            "Expiration": c["expiration"]}


__all__ = ["seed_with_aws_cli", "seed_with_boto3", "make_bucket_with_test_file", "device_credentials", "TRUST", "S3_READ",
           "assume_policy", "REGION"]

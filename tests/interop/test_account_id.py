"""`iotcreds serve --account-id`: teams moving from AWS keep their account id, so the ARNs in
their policies and scripts stay true. Chosen once, at first start; a different one later is
refused with the fix in the message, and nothing is changed."""

import os
import subprocess

from conftest import BIN, REGION, Server

ACCOUNT = "123456789012"


def serve(data, *extra, env=None):
    return subprocess.run(
        [BIN, "serve", "--data-dir", str(data), "--region", REGION,
         "--credentials-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0",
         "--admin-addr", "127.0.0.1:0", "--console-addr", "127.0.0.1:0", *extra],
        capture_output=True, text=True, timeout=60, env=env,
    )


def account_of(server):
    sts = server.boto3_client("sts")
    return sts.get_caller_identity()["Account"]


def account_at_start(data, *extra_args, env=None):
    """Start a server on `data`, read the account id STS answers, stop it."""
    server = Server(data, extra_args=list(extra_args), env=env)
    try:
        return account_of(server)
    finally:
        server.stop()


def test_a_new_registry_takes_the_account_id_given_and_its_arns_name_it(tmp_path):
    data = tmp_path / "data"
    server = Server(data, extra_args=["--account-id", ACCOUNT])
    try:
        assert account_of(server) == ACCOUNT
        iam = server.boto3_client("iam")
        role = iam.create_role(
            RoleName="ADCTestRole",
            AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
        )["Role"]
        assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/ADCTestRole"
        iot = server.boto3_client("iot")
        alias = iot.create_role_alias(roleAlias="ADCTestRoleAlias", roleArn=role["Arn"])
        assert alias["roleAliasArn"] == f"arn:aws:iot:{REGION}:{ACCOUNT}:rolealias/ADCTestRoleAlias"
    finally:
        server.stop()
    # The same id again on a later start is what a service unit does: accepted.
    assert account_at_start(data, "--account-id", ACCOUNT) == ACCOUNT
    # Without the flag, the registry keeps its id.
    assert account_at_start(data) == ACCOUNT


def test_another_account_id_for_an_existing_registry_is_refused_and_changes_nothing(tmp_path):
    data = tmp_path / "data"
    original = account_at_start(data)
    other = "210987654321" if original != "210987654321" else "111122223333"
    proc = serve(data, "--account-id", other)
    assert proc.returncode != 0
    assert f"account id is {original}, not {other}" in proc.stderr, proc.stderr
    assert "--account-id" in proc.stderr, "the message says what to drop"
    assert account_at_start(data) == original


def test_the_account_id_comes_from_the_environment_too(tmp_path):
    env = dict(os.environ, IOTCREDS_ACCOUNT_ID=ACCOUNT)
    assert account_at_start(tmp_path / "data", env=env) == ACCOUNT


def test_an_account_id_that_is_not_twelve_digits_is_refused_before_anything_is_created(tmp_path):
    for i, bad in enumerate(("12345678901", "1234567890123", "12345678901a", "", "-123456789012")):
        data = tmp_path / f"data-{i}"
        data.mkdir(mode=0o700)
        proc = serve(data, f"--account-id={bad}")
        assert proc.returncode != 0, bad
        assert "account" in proc.stderr.lower() and "12 digits" in proc.stderr, proc.stderr
        assert list(data.iterdir()) == [], f"nothing written for {bad!r}"

"""IAM login profiles (console passwords) with aws-cli, boto3 and the `iotcreds` CLI: AWS's
shapes and errors, the password policy, and no password ever in an answer or a log line."""

import json
import subprocess

from conftest import BIN

GOOD = "Correct-horse1"


def err(proc):
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_login_profile_lifecycle_with_aws_cli(server):
    server.aws("iam", "create-user", "--user-name", "alice")
    weak = server.aws("iam", "create-login-profile", "--user-name", "alice", "--password", "alice", check=False)
    assert "(PasswordPolicyViolation)" in err(weak)
    assert "Password does not conform to the account password policy." in weak.stderr
    made = server.aws("iam", "create-login-profile", "--user-name", "alice", "--password", GOOD)
    profile = made["LoginProfile"]
    assert profile["UserName"] == "alice" and profile["PasswordResetRequired"] is False
    assert profile["CreateDate"].endswith(("Z", "+00:00"))
    again = server.aws("iam", "create-login-profile", "--user-name", "alice", "--password", GOOD, check=False)
    assert "(EntityAlreadyExists)" in err(again)
    assert "Login Profile for user alice already exists." in again.stderr
    got = server.aws("iam", "get-login-profile", "--user-name", "alice")["LoginProfile"]
    assert got["UserName"] == "alice" and got["PasswordResetRequired"] is False
    server.aws("iam", "update-login-profile", "--user-name", "alice", "--password-reset-required")
    assert server.aws("iam", "get-login-profile", "--user-name", "alice")["LoginProfile"]["PasswordResetRequired"]
    server.aws("iam", "update-login-profile", "--user-name", "alice", "--password", "Another-pass2",
               "--no-password-reset-required")
    blocked = server.aws("iam", "delete-user", "--user-name", "alice", check=False)
    assert "(DeleteConflict)" in err(blocked)
    assert "Cannot delete entity, must delete login profile first." in blocked.stderr
    server.aws("iam", "delete-login-profile", "--user-name", "alice")
    gone = server.aws("iam", "get-login-profile", "--user-name", "alice", check=False)
    assert "(NoSuchEntity)" in err(gone)
    assert "Login Profile for User alice cannot be found." in gone.stderr
    gone = server.aws("iam", "delete-login-profile", "--user-name", "alice", check=False)
    assert "Login Profile for User alice cannot be found." in err(gone)
    gone = server.aws("iam", "update-login-profile", "--user-name", "alice", "--password", GOOD, check=False)
    assert "Login Profile for User alice cannot be found." in err(gone)
    nobody = server.aws("iam", "create-login-profile", "--user-name", "nobody", "--password", GOOD, check=False)
    assert "The user with name nobody cannot be found." in err(nobody)
    server.aws("iam", "delete-user", "--user-name", "alice")


def test_passwords_never_come_back(server):
    server.aws("iam", "create-user", "--user-name", "bob")
    secret = "Sekrit-" + "x" * 130
    long = server.aws("iam", "create-login-profile", "--user-name", "bob", "--password", secret, check=False)
    assert "ValidationError" in err(long)
    assert "Sekrit" not in long.stderr
    server.aws("iam", "create-login-profile", "--user-name", "bob", "--password", "Visible-pass9")
    server.wait_for_audit(lambda es: any(e.get("event") == "create_login_profile" for e in es))
    assert not any("Visible-pass9" in line or "Sekrit" in line for line in server.lines)


def test_only_allowed_callers_manage_passwords(server):
    server.aws("iam", "create-user", "--user-name", "ops")
    key = server.aws("iam", "create-access-key", "--user-name", "ops")["AccessKey"]
    ops = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    server.aws("iam", "create-user", "--user-name", "carol")
    denied = server.aws("iam", "create-login-profile", "--user-name", "carol", "--password", GOOD,
                        creds=ops, check=False)
    account = server.aws("sts", "get-caller-identity")["Account"]
    assert (f"User: arn:aws:iam::{account}:user/ops is not authorized to perform: iam:CreateLoginProfile "
            f"on resource: arn:aws:iam::{account}:user/carol") in err(denied)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateLoginProfile", "iam:GetLoginProfile"], "Resource": "*"}]}
    server.aws("iam", "put-user-policy", "--user-name", "ops", "--policy-name", "pw",
               "--policy-document", json.dumps(policy))
    iam = server.boto3_client("iam", creds=ops)
    out = iam.create_login_profile(UserName="carol", Password=GOOD, PasswordResetRequired=True)
    assert out["LoginProfile"]["PasswordResetRequired"] is True
    # Without UserName, an IAM user's own profile.
    try:
        iam.get_login_profile()
        raise AssertionError("ops has no login profile")
    except iam.exceptions.NoSuchEntityException as e:
        assert "Login Profile for User ops cannot be found." in str(e)


def test_the_cli_reads_passwords_from_stdin(server):
    env = {"IOTCREDS_ENDPOINT_URL": server.api_url, "IOTCREDS_DATA_DIR": str(server.data_dir), "PATH": "/usr/bin:/bin"}

    def cli(*args, stdin=None):
        return subprocess.run([BIN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)

    assert cli("user", "create", "dana").returncode == 0
    p = cli("user", "login-profile", "create", "dana", "--password-stdin", stdin=GOOD + "\n")
    assert p.returncode == 0, p.stderr
    assert "UserName: dana" in p.stdout and GOOD not in p.stdout
    p = cli("--output", "json", "user", "login-profile", "get", "dana")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["LoginProfile"]["PasswordResetRequired"] is False
    p = cli("user", "login-profile", "update", "dana", "--password-reset-required", "true")
    assert p.returncode == 0, p.stderr
    p = cli("user", "login-profile", "create", "dana", "--password-stdin", stdin=GOOD + "\n")
    assert p.returncode == 1 and "EntityAlreadyExists" in p.stderr
    p = cli("user", "login-profile", "update", "dana", "--password-stdin", stdin="weak\n")
    assert p.returncode == 1 and "PasswordPolicyViolation" in p.stderr
    p = cli("user", "login-profile", "create", "dana")
    assert p.returncode == 64, "--password-stdin is required"
    assert cli("user", "login-profile", "delete", "dana").returncode == 0
    p = cli("user", "login-profile", "get", "dana")
    assert p.returncode == 1 and "Login Profile for User dana cannot be found." in p.stderr

#!/usr/bin/env python3
"""Benchmark: the cost of per-device revocation (issue 15), side by side in one run.

Every request signed with a device's temporary credentials is checked against its certificate
(exists, not registered again, ACTIVE) and its thing attachment (the registry cache's reads).
Sessions that name no certificate (STS AssumeRole) skip the check and are otherwise served by
the same code: the same role, the same policy evaluation, the same sealed-token format, the same
4 KiB object from the embedded store. So one server answers signed 4 KiB GETs with both kinds of
credentials, runs alternating, and the ratio of requests per server CPU-second is the check's
cost. The server runs on core 0, the load generator on core 1; medians of RUNS runs.

Usage: bench/revocation.py [--seconds 8] [--runs 5] [--concurrency 8] [--no-build]
"""

import argparse
import json
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import common  # noqa: E402

BUCKET = "adc-test-2020-08-26"
SIZE = 4096


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not a.no_build:
        common.build()
    results = {}
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        server = common.Iotcreds(work)
        try:
            cert, key, _, _ = common.seed_device(server, work)
            server.aws("s3api", "create-bucket", "--bucket", BUCKET,
                       "--create-bucket-configuration", f"LocationConstraint={common.REGION}")
            body = work / "body"
            body.write_bytes(b"x" * SIZE)
            server.aws("s3api", "put-object", "--bucket", BUCKET, "--key", "get-4KiB", "--body", str(body))
            device = common.fetch_credentials(server, cert, key)

            # A user allowed to assume the same role: its sessions name no certificate.
            account = server.aws("sts", "get-caller-identity")["Account"]
            server.aws("iam", "create-user", "--user-name", "bench")
            server.aws("iam", "put-user-policy", "--user-name", "bench", "--policy-name", "assume", "--policy-document",
                       json.dumps({"Version": "2012-10-17", "Statement": [
                           {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
            k = server.aws("iam", "create-access-key", "--user-name", "bench")["AccessKey"]
            server.aws("iam", "update-assume-role-policy", "--role-name", "ADCTestRole", "--policy-document",
                       json.dumps({"Version": "2012-10-17", "Statement": [
                           {"Effect": "Allow", "Principal": {"Service": "credentials.iot.amazonaws.com"},
                            "Action": "sts:AssumeRole"},
                           {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/bench"},
                            "Action": "sts:AssumeRole"}]}))
            assumed = server.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{account}:role/ADCTestRole",
                                 "--role-session-name", "bench",
                                 creds={"aws_access_key_id": k["AccessKeyId"],
                                        "aws_secret_access_key": k["SecretAccessKey"]})["Credentials"]
            variants = {
                "device session (checked)": (device["accessKeyId"], device["secretAccessKey"], device["sessionToken"]),
                "AssumeRole session (no check)": (assumed["AccessKeyId"], assumed["SecretAccessKey"],
                                                  assumed["SessionToken"]),
            }
            for _ in range(a.runs):
                for name, (akid, secret, token) in variants.items():
                    args = ["s3", "--addr", server.api_addr, "--path", f"/{BUCKET}/get-4KiB", "--method", "GET",
                            "--size", str(SIZE), "--access-key-id", akid, "--secret-access-key", secret,
                            "--session-token", token, "--region", common.REGION]
                    results.setdefault(name, []).append(common.measure(server.pids, args, a.seconds, a.concurrency))
            for name, runs in results.items():
                if any(r["errors"] for r in runs):
                    print(f"warning: {name}: errors {[r['errors'] for r in runs]}", file=sys.stderr)
        finally:
            server.stop()

    print(f"\nSigned 4 KiB GETs per server CPU-second (median of {a.runs} runs of {a.seconds}s, "
          f"concurrency {a.concurrency})\n")
    on, off = (common.median_of(results[n]) for n in variants)
    common.table([[n, f"{common.median_of(results[n]):.0f}"] for n in variants], ["credentials", "per CPU-second"])
    print(f"\nrevocation check: {on / off:.3f}x of the unchecked rate ({(1 - on / off) * 100:+.1f}% cost)")


if __name__ == "__main__":
    main()

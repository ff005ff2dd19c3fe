"""The AWS operation list the compatibility tables are generated from (tests/data/
aws-operations.txt, by `scripts/aws-operations`) is the pinned botocore's: bumping botocore
without regenerating it, and so the tables, fails here."""

import pathlib

from aws_operations import listing

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_aws_operation_list_is_the_pinned_botocores():
    stored = (ROOT / "tests" / "data" / "aws-operations.txt").read_text()
    assert stored == listing(), "tests/data/aws-operations.txt is stale: run scripts/aws-operations"

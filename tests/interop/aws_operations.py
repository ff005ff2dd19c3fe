"""The operations of the AWS services iotcreds speaks, as the installed botocore names them
(`scripts/aws-operations` writes them to tests/data/aws-operations.txt)."""

import botocore
import botocore.session

SERVICES = ["iot", "iam", "sts", "s3"]


def listing():
    session = botocore.session.get_session()
    lines = [f"# botocore {botocore.__version__}: <service> <operation>, from its service models"]
    for service in SERVICES:
        model = session.get_service_model(service)
        lines += [f"{service} {name}" for name in sorted(model.operation_names)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(listing(), end="")

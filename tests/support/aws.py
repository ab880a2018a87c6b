"""boto3 clients aimed at something running on this machine (the local runtime, the standalone
Step Functions server, moto's server), as the README tells a developer to make them."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def local_client(service: str, endpoint: str) -> Any:
    """Region and credentials as the banner's export line gives them (any work locally), and
    one attempt: a test should see the first answer, not a retried one."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )

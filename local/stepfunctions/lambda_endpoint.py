"""Invokes Lambda functions through Lambda's Invoke API at an endpoint, as Step Functions Local
does with its LAMBDA_ENDPOINT setting (the local runtime serves that API)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from .invoker import LambdaFunctionError, LambdaServiceError

# Lambda's errorTypes for failures outside the handler.
SANDBOX_ERRORS = frozenset({"Sandbox.Timedout", "Runtime.ExitError"})


class LambdaEndpointInvoker:
    def __init__(self, endpoint: str, timeout: float = 900.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def _sign(self, request: urllib.request.Request) -> None:
        """SigV4 as Step Functions Local's SDK signs: the runtime serves only signed calls
        (any credentials, as AWS's local tools accept)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        credentials = Credentials(
            os.environ.get("AWS_ACCESS_KEY_ID") or "local",
            os.environ.get("AWS_SECRET_ACCESS_KEY") or "local",
            os.environ.get("AWS_SESSION_TOKEN") or None,
        )
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        aws = AWSRequest(
            method=request.get_method(),
            url=request.full_url,
            data=request.data,
            headers=dict(request.header_items()),
        )
        SigV4Auth(credentials, "lambda", region).add_auth(aws)
        for key, value in aws.headers.items():
            request.add_header(key, value)

    def invoke(self, function_name: str, payload: Any) -> Any:
        url = f"{self.endpoint}/2015-03-31/functions/{quote(function_name, safe='')}/invocations"
        request = urllib.request.Request(
            url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Amz-Invocation-Type": "RequestResponse",
            },
        )
        self._sign(request)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read() or b"null")
                function_error = response.headers.get("X-Amz-Function-Error")
        except urllib.error.HTTPError as error:
            kind = error.headers.get("x-amzn-ErrorType") or "ServiceException"
            detail = error.read().decode(errors="replace")
            if error.code == 404 or kind.startswith("ResourceNotFound"):
                raise LambdaServiceError("Lambda.ResourceNotFoundException", detail) from error
            if error.code == 429:
                raise LambdaServiceError("Lambda.TooManyRequestsException", detail) from error
            raise LambdaServiceError(f"Lambda.{kind.split(':')[0]}", detail) from error
        except (urllib.error.URLError, OSError) as error:
            raise LambdaServiceError("Lambda.SdkClientException", str(error)) from error
        if function_error and body.get("errorType") in SANDBOX_ERRORS:
            # Outside the handler (timed out, process died): Step Functions reports these as
            # Lambda.Unknown, with Lambda's answer as the cause, as the embedded runtime does.
            raise LambdaServiceError("Lambda.Unknown", json.dumps(body))
        if function_error:
            raise LambdaFunctionError(
                str(body.get("errorType", "Unhandled")),
                str(body.get("errorMessage", "")),
                list(body.get("stackTrace") or []),
            )
        return body

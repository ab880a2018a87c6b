"""Local AWS Step Functions: an Amazon States Language engine with a durable SQLite store
and the Step Functions JSON API (see api.handle_request)."""

from .invoker import LambdaFunctionError, LambdaInvoker, LambdaServiceError
from .service import StepFunctionsService

__all__ = ["LambdaFunctionError", "LambdaInvoker", "LambdaServiceError", "StepFunctionsService"]

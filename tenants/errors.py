"""Errors that services raise and every entry point reports the same way.

The API answers a `ServiceError` with its status code and a body naming the field and the
rule; commands print it; tasks record it on the job.
"""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str = "non_field_errors", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, object]:
        return {self.field: [self.message], "code": self.code}


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class Unprocessable(ServiceError):
    status_code = 422
    code = "unprocessable"


class PaymentRequired(ServiceError):
    status_code = 402
    code = "budget_exceeded"


class Forbidden(ServiceError):
    status_code = 403
    code = "forbidden"


class NotFound(ServiceError):
    """The object is gone (deleted by a concurrent request after the caller read it): a delete is final."""

    status_code = 404
    code = "not_found"

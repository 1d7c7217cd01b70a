"""The one exception tree every layer raises; the API doors turn it into the error envelope.

    ChaparError                  code (HTTP status), type (stable UPPER_SNAKE), message
    ├── BadRequest        400    the input is wrong (validation, unknown ids, bad codes)
    ├── Unauthorized      401    no, invalid, expired or revoked credentials
    ├── Forbidden         403    authenticated, but not allowed
    ├── NotFound          404    unknown method or object
    ├── Conflict          409    a concurrent write won a uniqueness race; retry (the
    │                            services retry once by themselves)
    ├── PayloadTooLarge   413    body or frame above the configured limit
    ├── FloodWait         429    a limit was hit; carries retry_after seconds
    └── Unavailable       503    a dependency (the store) cannot be reached; retry later

Anything else that escapes a handler is a bug: the doors log it and answer 500 INTERNAL.
"""

from __future__ import annotations


class ChaparError(Exception):
    code: int = 400
    default_type: str = "BAD_REQUEST"

    def __init__(self, type_: str | None = None, message: str = "") -> None:
        self.type = type_ or self.default_type
        self.message = message or self.type.replace("_", " ").lower()
        super().__init__(f"{self.type}: {self.message}")


class BadRequest(ChaparError):
    code = 400
    default_type = "BAD_REQUEST"


class Unauthorized(ChaparError):
    code = 401
    default_type = "AUTH_KEY_UNREGISTERED"


class Forbidden(ChaparError):
    code = 403
    default_type = "FORBIDDEN"


class NotFound(ChaparError):
    code = 404
    default_type = "NOT_FOUND"


class Conflict(ChaparError):
    code = 409
    default_type = "CONFLICT"


class PayloadTooLarge(ChaparError):
    code = 413
    default_type = "PAYLOAD_TOO_LARGE"


class FloodWait(ChaparError):
    code = 429
    default_type = "FLOOD_WAIT"

    def __init__(self, retry_after: int, message: str = "") -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(None, message or f"too many requests; retry in {self.retry_after} s")


class Unavailable(ChaparError):
    code = 503
    default_type = "SERVICE_UNAVAILABLE"

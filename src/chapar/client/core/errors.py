"""The client library's one exception tree (as in httpx)::

ChaparClientError
├── ClientError          the server answered with an error envelope (code, type, …)
└── TransportError       the call could not complete over the connection
    ├── ConnectionLost   the socket dropped while a call that is unsafe to repeat was
    │                    in flight: it may or may not have been applied
    ├── ProtocolError    the server sent a frame this client cannot read
    └── ClientClosed     the client was closed, or stopped for good after a fatal error
"""

from __future__ import annotations

from chapar.protocol.envelope import ErrorBody


class ChaparClientError(Exception):
    """Base of everything this library raises on purpose."""


class ClientError(ChaparClientError):
    """The server refused a call. ``type`` is the stable UPPER_SNAKE name to branch on;
    ``code`` the HTTP-like status; ``retry_after`` (seconds) is set on FLOOD_WAIT."""

    def __init__(self, code: int, type: str, message: str, retry_after: int | None = None):
        self.code = code
        self.type = type
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{code} {type}: {message}")

    @classmethod
    def from_body(cls, body: ErrorBody) -> ClientError:
        return cls(body.code, body.type, body.message, body.retry_after)


class TransportError(ChaparClientError):
    """The connection, not the server's judgement, stopped the call."""


class ConnectionLost(TransportError):
    """The socket dropped with a non-repeatable call in flight; its outcome is unknown."""


class ProtocolError(TransportError):
    """A frame from the server did not follow the envelope format."""


class ClientClosed(TransportError):
    """The client is closed; ``__cause__`` holds the fatal error if there was one."""

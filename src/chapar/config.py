"""Settings: defaults, then an optional TOML file, then ``CHAPAR_*`` environment variables,
then command-line flags (each later source wins).

Every field of :class:`Settings` is one setting; its environment variable is the field name
upper-cased with a ``CHAPAR_`` prefix and the TOML key is the field name itself.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from chapar.sms_settings import (
    ProviderConfig,
    SmsDeliverySettings,
    SmsRoute,
    default_providers,
)

ENV_PREFIX = "CHAPAR_"


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8080
    # Load balancers in front of the nodes (comma-separated addresses or networks): for a
    # request from one of them, the client's address (what per-address limits count) is
    # read from X-Forwarded-For. Loopback by default, for nginx on the same machine
    # (deploy/nginx.conf); empty trusts no one.
    trusted_proxies: str = "127.0.0.0/8,::1"
    data_dir: str = "./data"
    # Empty: SQLite in data_dir. Or sqlite:///path, or postgresql://user@host:port/db
    # (add ?schema=name to use a schema other than public).
    database_url: str = ""
    # Empty: the event bus and rate limits live in this process (one node). Or
    # redis://host:port/db (rediss:// for TLS, unix:///path) to share them between nodes.
    redis_url: str = ""
    # Prefix of every Redis channel and key, so several deployments can share one Redis.
    redis_prefix: str = "chapar:"
    # FULL survives power loss; NORMAL survives a killed process (WAL mode) and is faster.
    sqlite_synchronous: str = "FULL"
    # The region used to read national phone numbers such as 09121234567.
    default_region: str = "IR"
    # console: log each SMS and append it to <data_dir>/sms-outbox.jsonl.
    sms_gateway: str = "console"
    # SMS delivery through the durable outbox (services/sms_delivery.py): the providers,
    # the routes by number prefix (empty: every provider, in the order listed) and the
    # worker. TOML tables only; see docs/operations.md.
    sms_providers: list[ProviderConfig] = msgspec.field(default_factory=default_providers)
    sms_routes: list[SmsRoute] = msgspec.field(default_factory=list)
    sms_delivery: SmsDeliverySettings = msgspec.field(default_factory=SmsDeliverySettings)
    code_ttl_seconds: int = 300
    code_max_attempts: int = 5
    code_resend_seconds: int = 60
    # A number whose account is signed in somewhere gets its code there first, as a message
    # from the Chapar account (Telegram's type "app"); auth.resendCode then sends an SMS.
    # Off: every code goes by SMS, and no answer shows whether a number has an account.
    code_in_app: bool = True
    # Offer a voice call after the SMS (auth.resendCode); needs a provider that calls.
    code_voice_calls: bool = False
    # auth.sendCode returns once the code is durably queued; with this > 0 it also waits
    # up to this long for the first send attempt (development and tests read the console
    # outbox right after the call). 0 in production: the API never waits for a provider.
    sms_send_wait_ms: int = 0
    # Number ranges that never get codes, comma-separated E.164 prefixes ("+99988,+88213").
    blocked_phone_prefixes: str = ""
    # Abuse limits overriding their defaults (services/limits.py), "name=amount/period, ...",
    # e.g. "send_code_per_phone=3/1h, sms_global=50000/1h".
    limits: str = ""
    # console: log each email and append it to <data_dir>/mail-outbox.jsonl.
    mail_gateway: str = "console"
    # Reserved test numbers (off by default): +99966XXXXXX numbers sign in with test_code
    # and send no SMS. Only for development and load tests.
    test_numbers: bool = False
    test_number_prefix: str = "+99966"
    test_code: str = "222222"
    max_body_bytes: int = 1_048_576
    max_frame_bytes: int = 262_144
    max_message_length: int = 4096
    difference_limit: int = 1000
    # A member this many chat updates behind gets "too long" and reloads recent history.
    channel_too_long: int = 100_000
    long_poll_max_seconds: int = 30
    # Pushes buffered for one WebSocket before the slow consumer is disconnected: frames,
    # and bytes (a frame may carry many updates, so the count alone bounds no memory).
    ws_send_queue: int = 4096
    ws_send_queue_bytes: int = 8 * 1024**2
    # Media limits (Telegram's: files up to 2 GB in parts of 512 KiB).
    max_file_bytes: int = 2 * 1024**3
    max_file_parts: int = 4096
    max_photo_bytes: int = 20 * 1024**2
    daily_upload_bytes: int = 50 * 1024**3
    max_caption_length: int = 1024
    media_url_ttl_seconds: int = 3600
    # Where encrypted blobs live. Empty: <data_dir>/blobs. Or an S3-compatible bucket:
    # s3://bucket[/prefix][?endpoint=http://host:port&region=us-east-1], with credentials
    # from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (docs/media.md).
    blob_url: str = ""
    # CDN edges (`chapar edge`): their public base URLs, comma-separated; empty: no CDN.
    cdn_edges: str = ""
    # Which files go to the edges: "public_channels" (posts of public broadcast channels
    # with at least cdn_min_subscribers members), "all" (every file; for tests), "off".
    cdn_policy: Literal["public_channels", "all", "off"] = "public_channels"
    cdn_min_subscribers: int = 1000
    # How long an edge token (the client's pass to an edge for one file) stays valid.
    cdn_token_ttl_seconds: int = 1800
    log_level: str = "info"
    log_json: bool = False
    access_log: bool = False
    shutdown_timeout_seconds: float = 10.0

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    def sqlite_path(self) -> Path:
        url = self.database_url
        if not url or url == "sqlite":
            return self.data_path / "chapar.sqlite3"
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        raise ValueError(f"unsupported database_url {url!r}; use sqlite:///<path>")


def field_names() -> tuple[str, ...]:
    return Settings.__struct_fields__


def field_defaults() -> dict[str, Any]:
    d = Settings()
    return {name: getattr(d, name) for name in field_names()}


def load_settings(
    toml_path: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the sources and validate the result; raise ``ValueError`` with a clear reason."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    path = toml_path or env.get(ENV_PREFIX + "CONFIG")
    if path:
        with open(path, "rb") as f:
            raw.update(tomllib.load(f))
    for name in field_names():
        value = env.get(ENV_PREFIX + name.upper())
        if value is not None:
            raw[name] = value
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        # strict=False lets "8080" from the environment become an int, "true" a bool.
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as e:
        raise ValueError(f"invalid settings: {e}") from e

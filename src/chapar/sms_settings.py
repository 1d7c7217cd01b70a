"""The SMS part of the settings file: providers, routes and the delivery worker.

Kept out of ``config.py`` because it is a small language of its own: each provider is a
TOML table whose ``type`` selects its fields (a msgspec tagged union), so a key that does
not belong to that provider type is refused when the file is read, not when the first code
is sent. See docs/operations.md for examples.

    [[sms_providers]]            one table per provider; ``name`` is how routes refer to it
    [[sms_routes]]               number prefix -> providers, by priority then weight
    [sms_delivery]               the outbox worker: retries, leases, the public webhook URL
"""

from __future__ import annotations

from typing import Literal

import msgspec

Kind = Literal["sms", "call"]


class ProviderBase(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, tag_field="type"):
    # Routes and metrics name the provider by this.
    name: str
    # A send that has not been accepted within this many seconds counts as a timeout and
    # the message fails over to the next provider.
    timeout_seconds: float = 5.0
    # An accepted SMS without a delivery report within this many seconds counts as a
    # failure of the provider and is sent again through the next one. 0: the provider sends
    # no reports (or they are not wired up); acceptance is then success.
    report_timeout_seconds: float = 0.0
    # Circuit breaker: this many failures in a row open the circuit; after open_seconds one
    # probe is let through (half-open); its success closes the circuit again.
    failure_threshold: int = 3
    open_seconds: float = 30.0


class ConsoleProvider(ProviderBase, kw_only=True, tag="console"):
    """Logs each message and appends it to a JSONL file (default <data_dir>/sms-outbox.jsonl)."""

    path: str = ""


class HttpProvider(ProviderBase, kw_only=True, tag="http"):
    """Any HTTP API, described by a request template and a success rule.

    Placeholders in ``url``, ``headers``, ``body`` and ``form`` values: ``{to}`` (E.164),
    ``{to_digits}`` (E.164 without +), ``{text}``, ``{id}`` (outbox id), ``{kind}``. In
    ``url`` they are URL-encoded; in a JSON ``body`` they become JSON strings (write
    ``{"to": {to}}``, without quotes around the placeholder).
    """

    url: str
    method: Literal["GET", "POST", "PUT"] = "POST"
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    body: str = ""
    content_type: str = "application/json"
    form: dict[str, str] = msgspec.field(default_factory=dict)
    # Success: the status is one of these, and (when set) the JSON value at success_path
    # equals success_value, and (when set) the body contains success_contains.
    success_status: list[int] = msgspec.field(default_factory=lambda: [200, 201, 202])
    success_path: str = ""
    success_value: str = ""
    success_contains: str = ""
    # Dotted path of the provider's message id in the JSON answer ("" = none).
    id_path: str = ""
    kinds: list[Kind] = msgspec.field(default_factory=lambda: ["sms"])
    # Delivery reports posted to /sms/reports/<name>?secret=<webhook_secret>: the fields
    # (query, form or JSON) holding the message id and status, and which statuses mean what.
    report_id_field: str = "id"
    report_status_field: str = "status"
    delivered_values: list[str] = msgspec.field(default_factory=lambda: ["delivered", "DELIVRD"])
    failed_values: list[str] = msgspec.field(
        default_factory=lambda: ["failed", "undelivered", "UNDELIV", "REJECTD", "EXPIRED"]
    )
    webhook_secret: str = ""


class KavenegarProvider(ProviderBase, kw_only=True, tag="kavenegar"):
    """Kavenegar's REST API (sms/send, verify/lookup, call/maketts)."""

    api_key: str
    sender: str = ""
    base_url: str = "https://api.kavenegar.com"
    # When set and the message carries a code, codes go through verify/lookup with this
    # template (type=sms or type=call) instead of sms/send and call/maketts.
    verify_template: str = ""
    # Kavenegar posts delivery reports to the URL set in its panel:
    # <public_url>/sms/reports/<name>?secret=<webhook_secret>.
    webhook_secret: str = ""
    voice: bool = True


class TwilioProvider(ProviderBase, kw_only=True, tag="twilio"):
    """Twilio's Messages API (and Calls API for voice codes), basic auth."""

    account_sid: str
    auth_token: str
    from_number: str = ""
    messaging_service_sid: str = ""
    base_url: str = "https://api.twilio.com"
    # Ask Twilio for status callbacks at <public_url>/sms/reports/<name> (signed with the
    # auth token). Needs sms_delivery.public_url.
    status_callback: bool = True
    voice: bool = False
    voice_language: str = "en-US"


class SmppProvider(ProviderBase, kw_only=True, tag="smpp"):
    """Direct to an operator's SMSC over SMPP 3.4 (aiosmpplib), bound as a transceiver
    so delivery receipts (deliver_sm) arrive on the same connection."""

    host: str
    port: int = 2775
    system_id: str
    password: str
    system_type: str = ""
    source_addr: str = ""
    # 5 = alphanumeric sender id, 1 = international number, 0 = unknown.
    source_ton: int = 5
    source_npi: int = 0
    enquire_link_seconds: float = 30.0


ProviderConfig = ConsoleProvider | HttpProvider | KavenegarProvider | TwilioProvider | SmppProvider


class RouteTarget(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    provider: str
    # Lower goes first; providers of equal priority share the traffic by weight.
    priority: int = 0
    weight: int = 1


class SmsRoute(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # An E.164 prefix ("+98", "+98912") or "*"; the longest matching prefix wins.
    prefix: str
    # Plain names are tried in the order written (priority = position).
    providers: list[str | RouteTarget]


class SmsDeliverySettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # The address providers reach this server at (for webhooks), e.g. https://chat.example.
    public_url: str = ""
    # When every provider of a route failed a message, it waits and tries the route again,
    # at most max_rounds times (while the message is still fresh).
    max_rounds: int = 3
    retry_seconds: float = 10.0
    # How long a message stays worth sending when the caller gives no ttl.
    ttl_seconds: float = 300.0
    # Sends in flight per node, and how often the worker looks for due messages when
    # nothing wakes it.
    max_in_flight: int = 64
    poll_seconds: float = 1.0
    # Finished messages are kept this long (their text is erased at once), then deleted.
    keep_days: float = 7.0


def default_providers() -> list[ProviderConfig]:
    return [ConsoleProvider(name="console")]

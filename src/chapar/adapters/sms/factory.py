"""Builds the SMS providers the settings list (``[[sms_providers]]``): the one place that
maps a provider ``type`` to its adapter, called by app.py."""

from __future__ import annotations

from pathlib import Path

from chapar.adapters.sms.console import ConsoleSms
from chapar.adapters.sms.generic_http import GenericHttpSms
from chapar.adapters.sms.kavenegar import KavenegarSms
from chapar.adapters.sms.smpp import SmppSms
from chapar.adapters.sms.twilio import TwilioSms
from chapar.ports.sms_provider import SmsProvider
from chapar.sms_settings import (
    ConsoleProvider,
    HttpProvider,
    KavenegarProvider,
    ProviderConfig,
    SmppProvider,
    TwilioProvider,
)


def build_provider(cfg: ProviderConfig, data_dir: Path, public_url: str = "") -> SmsProvider:
    if isinstance(cfg, ConsoleProvider):
        return ConsoleSms(Path(cfg.path) if cfg.path else data_dir / "sms-outbox.jsonl", cfg.name)
    if isinstance(cfg, HttpProvider):
        return GenericHttpSms(cfg)
    if isinstance(cfg, KavenegarProvider):
        return KavenegarSms(cfg)
    if isinstance(cfg, TwilioProvider):
        return TwilioSms(cfg, public_url)
    assert isinstance(cfg, SmppProvider)
    return SmppSms(cfg)


def build_providers(
    configs: list[ProviderConfig], data_dir: Path, public_url: str = ""
) -> list[SmsProvider]:
    names = [c.name for c in configs]
    if not configs:
        raise ValueError("sms_providers is empty: configure at least one provider")
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"sms_providers: duplicate names {sorted(duplicates)}")
    return [build_provider(c, data_dir, public_url) for c in configs]

"""Interfaces the services speak to; adapters/ implement them (see docs/architecture.md)."""

"""Chapar: a messaging platform an operator runs on its own servers."""

__version__ = "0.1.0"

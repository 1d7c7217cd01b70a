"""``chapar edge``: the flags of the edge command and how they become an EdgeConfig."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from chapar.edge.server import EdgeConfig

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """Bytes from ``1073741824``, ``512M``, ``10GiB`` (binary units)."""
    m = _SIZE.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1073741824, 512M, 10G)")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--origin", required=True, help="the origin server's base URL")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8090, help="port to listen on")
    p.add_argument("--cache-dir", required=True, help="where cached parts live")
    p.add_argument(
        "--cache-size", type=parse_size, required=True, help="cache capacity: bytes, or 512M, 10G"
    )
    p.add_argument(
        "--memory-size",
        type=parse_size,
        default=256 * 1024**2,
        help="how much of the cache also stays in RAM, the hottest parts (default 256M)",
    )
    p.add_argument(
        "--origin-key",
        default=os.environ.get("CHAPAR_EDGE_ORIGIN_KEY"),
        help="the origin's public key (hex, GET <origin>/api/cdn/key); default: fetched "
        "from the origin at start-up. Env: CHAPAR_EDGE_ORIGIN_KEY",
    )


def config(args: argparse.Namespace) -> EdgeConfig:
    key = None
    if args.origin_key:
        try:
            key = bytes.fromhex(args.origin_key)
        except ValueError:
            raise ValueError("--origin-key: 64 hex digits") from None
        if len(key) != 32:
            raise ValueError("--origin-key: 64 hex digits")
    if args.cache_size <= 0:
        raise ValueError("--cache-size must be positive")
    if not args.origin.startswith(("http://", "https://")):
        raise ValueError("--origin: an http:// or https:// URL")
    return EdgeConfig(
        origin=args.origin,
        cache_dir=Path(args.cache_dir),
        cache_size=args.cache_size,
        memory_size=args.memory_size,
        host=args.host,
        port=args.port,
        origin_key=key,
    )

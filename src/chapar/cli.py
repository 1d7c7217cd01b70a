"""The ``chapar`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from chapar import __version__
from chapar.config import ENV_PREFIX, field_defaults, load_settings


def _settings_help() -> str:
    lines = ["settings (TOML key / environment variable = default):"]
    for name, default in field_defaults().items():
        lines.append(f"  {name:<26} {ENV_PREFIX}{name.upper():<28} = {default!r}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="chapar",
        description="Chapar messaging server.",
        epilog=_settings_help() + "\n\nSources, later wins: defaults, --config TOML file "
        f"(or {ENV_PREFIX}CONFIG), environment, flags.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"chapar {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run the server",
        epilog=_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--config", help="TOML settings file")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--data-dir", dest="data_dir", help="where SQLite and the SMS outbox live")
    from chapar.edge.cli import add_arguments as add_edge_arguments

    add_edge_arguments(
        sub.add_parser("edge", help="run a CDN edge that caches encrypted parts (docs/media.md)")
    )
    return p


def _run(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on Windows)
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def _edge(args: argparse.Namespace) -> int:
    from chapar import logs
    from chapar.edge.cli import config
    from chapar.edge.server import serve_edge

    try:
        cfg = config(args)
    except ValueError as e:
        print(f"chapar edge: {e}", file=sys.stderr)
        return 2
    logs.configure("info")
    _run(serve_edge(cfg))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "edge":
        return _edge(args)
    if args.command == "serve":
        try:
            settings = load_settings(
                args.config,
                overrides={"host": args.host, "port": args.port, "data_dir": args.data_dir},
            )
        except (ValueError, OSError) as e:
            print(f"chapar: {e}", file=sys.stderr)
            return 2
        from chapar import logs
        from chapar.app import serve

        logs.configure(settings.log_level, settings.log_json)
        try:
            import uvloop
        except ImportError:  # uvloop is optional (not on Windows)
            asyncio.run(serve(settings))
        else:
            uvloop.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())

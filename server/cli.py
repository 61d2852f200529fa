"""`ioc server` and `ioc migrate`. Only the standard library at module level: FastAPI, uvicorn and
psycopg are imported inside the run functions."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

_OPTIONS: list[tuple[str, str, str]] = [
    ("--database-url", "database_url", "PostgreSQL URL (env IOC_DATABASE_URL)"),
    ("--mqtt-url", "mqtt_url", "broker URL, mqtt://user:pass@host:1883 (env IOC_MQTT_URL)"),
    ("--config", "config", "path to streams.yaml (env IOC_CONFIG)"),
]


def _add_common(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    for flag, dest, help_text in _OPTIONS:
        if dest in names:
            parser.add_argument(flag, dest=dest, default=None, help=help_text)
    parser.add_argument("--log-level", default=os.environ.get("IOC_LOG_LEVEL", "INFO"), help="DEBUG, INFO, WARNING")


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common(parser, ("database_url", "mqtt_url", "config"))
    parser.add_argument("--host", default=None, help="address to listen on (env IOC_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (env IOC_PORT, default 8000)")
    parser.add_argument("--no-ingest", action="store_true", help="serve the API only, do not subscribe to MQTT")


def add_migrate_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common(parser, ("database_url",))


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    values = {name: getattr(args, name, None) for name in ("database_url", "mqtt_url", "config", "host", "port")}
    found = {name: value for name, value in values.items() if value is not None}
    if getattr(args, "no_ingest", False):
        found["ingest_enabled"] = False
    return found


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_server(args: argparse.Namespace) -> int:
    """Settings and streams.yaml are checked here, before uvicorn starts: a broken file is printed
    as `file:line` errors and the command exits 1 (no start-up traceback)."""
    import uvicorn
    from pydantic import ValidationError

    from contract.config import ConfigError, load_config
    from server.app import create_app
    from server.auth.settings import AuthSettings
    from server.live.settings import LiveSettings
    from server.settings import Settings

    _configure_logging(args.log_level)
    try:
        settings = Settings(**_overrides(args))
        auth, live = AuthSettings(), LiveSettings()
    except ValidationError as exc:
        print(f"ioc server: invalid settings:\n{_settings_errors(exc)}", file=sys.stderr)
        return 2
    try:
        load_config(settings.config)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    app = create_app(settings, auth=auth, live=live)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level.lower())
    return 0


def _settings_errors(exc: Exception) -> str:
    """One line per bad setting (`IOC_PORT: Input should be ...`); values are not repeated."""
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    title = exc.title
    prefix = {"Settings": "IOC_", "AuthSettings": "IOC_AUTH_", "LiveSettings": "IOC_LIVE_"}.get(title, "")
    return "\n".join(
        f"  {prefix}{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )


def run_migrate(args: argparse.Namespace) -> int:
    import asyncio

    from server.db.migrate import MigrationError, migrate
    from server.settings import Settings

    _configure_logging(args.log_level)
    settings = Settings(**_overrides(args))
    try:
        report = asyncio.run(migrate(settings.database_url))
    except MigrationError as exc:
        logging.getLogger(__name__).error("migration failed: %s", exc)
        return 1
    edition = (
        f"TimescaleDB {report.features.version} ({report.features.license})"
        if report.features.timescale
        else "plain PostgreSQL"
    )
    print(f"applied {len(report.applied)} migration(s): {', '.join(report.applied) or 'none pending'}; {edition}")
    return 0

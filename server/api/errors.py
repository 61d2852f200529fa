"""Errors translated at one boundary, so that every 422 has the documented shape (a list of
`{loc, msg, type}`, as FastAPI's own validation errors) and bad input never becomes a 500.
Every error text passes the process's secret redactor (`contract.redact`) on its way out."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response

from contract.redact import SecretRedactor

logger = logging.getLogger(__name__)


def validation_error(message: str, location: list[str | int] | None = None) -> JSONResponse:
    detail = [{"loc": location or [], "msg": message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _redactor(request: Request) -> SecretRedactor:
    services = getattr(request.app.state, "ioc", None)
    redactor = getattr(services, "redactor", None)
    return redactor if isinstance(redactor, SecretRedactor) else SecretRedactor()


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.detail, str):
        exc = HTTPException(exc.status_code, _redactor(request).redact(exc.detail), exc.headers)
    if exc.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT and isinstance(exc.detail, str):
        return validation_error(exc.detail)
    return await http_exception_handler(request, exc)


async def _data_error(request: Request, exc: Exception) -> Response:
    """The database refused a value the request carried (a NUL character, a number out of range)."""
    logger.info("%s %s: the database refused a value: %s", request.method, request.url.path, type(exc).__name__)
    first_line = _redactor(request).redact(str(exc).splitlines()[0][:200])
    return validation_error(f"a value cannot be stored: {first_line}")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(psycopg.DataError, _data_error)

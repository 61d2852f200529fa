"""Errors translated at one boundary, so that every 422 has the documented shape (a list of
`{loc, msg, type}`, as FastAPI's own validation errors) and bad input never becomes a 500."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response

logger = logging.getLogger(__name__)


def validation_error(message: str, location: list[str | int] | None = None) -> JSONResponse:
    detail = [{"loc": location or [], "msg": message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT and isinstance(exc.detail, str):
        return validation_error(exc.detail)
    return await http_exception_handler(request, exc)


async def _data_error(request: Request, exc: Exception) -> Response:
    """The database refused a value the request carried (a NUL character, a number out of range)."""
    logger.info("%s %s: the database refused a value: %s", request.method, request.url.path, type(exc).__name__)
    return validation_error(f"a value cannot be stored: {str(exc).splitlines()[0][:200]}")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(psycopg.DataError, _data_error)

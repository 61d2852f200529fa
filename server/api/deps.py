"""`Annotated` dependencies: routes ask for what they need, the lifespan's `AppState` provides it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from contract.config import StreamsConfig
from server.metrics import Metrics
from server.state import AppState
from server.store.pg import PgStore


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.ioc
    return state


def get_store(request: Request) -> PgStore:
    return get_state(request).store


def get_config(request: Request) -> StreamsConfig:
    return get_state(request).config


def get_metrics(request: Request) -> Metrics:
    return get_state(request).metrics


StateDep = Annotated[AppState, Depends(get_state)]
StoreDep = Annotated[PgStore, Depends(get_store)]
ConfigDep = Annotated[StreamsConfig, Depends(get_config)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]

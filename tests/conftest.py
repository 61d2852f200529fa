"""Shared test set-up: real services come from tests/fixtures/ (see services.py and rtsp.py)."""

from __future__ import annotations

import os

# Ultralytics reads these at import; tests must never reach the network.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

pytest_plugins = ["tests.fixtures.services", "tests.fixtures.rtsp", "tests.fixtures.nats", "tests.fixtures.browser"]

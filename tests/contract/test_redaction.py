"""One redaction boundary for every log record: real exceptions of the libraries we use (PyAV,
psycopg, httpx, paho, OpenCV) logged the way our code logs them, through a real handler and
formatter, never show a password; known secrets (a webhook secret) are masked wherever they appear."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contract.config import load_config
from contract.redact import SecretRedactor, install_log_redaction, secrets_of
from tests.fixtures.services import free_port

PASSWORD = "S3cr3t-Pass"
WEBHOOK_SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def log_output() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    install_log_redaction([WEBHOOK_SECRET])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(f"test.redaction.{free_port()}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _pyav() -> None:
    import av

    av.open(f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/x", options={"rtsp_transport": "tcp"}, timeout=2)


def _httpx() -> None:
    import httpx

    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(500))) as client:
        client.get(f"http://hook:{PASSWORD}@hooks.example/ioc?token={PASSWORD}").raise_for_status()


def _psycopg() -> None:
    import psycopg

    psycopg.connect(f"postgresql://ioc:{PASSWORD}@127.0.0.1:{free_port()}/ioc", connect_timeout=2)


def _paho() -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set("ioc", PASSWORD)
    try:
        client.connect("127.0.0.1", free_port())
    except OSError as exc:
        raise ConnectionError(f"broker mqtt://ioc:{PASSWORD}@127.0.0.1 refused: {exc}") from exc


def _opencv() -> None:
    import cv2

    cv2.dnn.readNet(f"rtsp://admin:{PASSWORD}@10.0.0.1/model.onnx")


def _known_secret() -> None:
    raise ValueError(f"signature check failed with key {WEBHOOK_SECRET}")


@pytest.mark.parametrize("raiser", [_pyav, _httpx, _psycopg, _paho, _opencv, _known_secret])
def test_library_exceptions_are_redacted_in_message_and_traceback(
    raiser: Callable[[], None], log_output: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = log_output
    with pytest.raises(Exception) as caught:
        raiser()
    try:
        raise RuntimeError("wrapped") from caught.value
    except RuntimeError:
        logger.exception("camera %s: cannot open: %s", "cam-1", caught.value)
    logger.warning("retrying %s", f"rtsp://admin:{PASSWORD}@10.0.0.1/x", stack_info=True)
    text = stream.getvalue()
    assert type(caught.value).__name__ in text and "Traceback" in text  # the details stay, minus secrets
    assert PASSWORD not in text and WEBHOOK_SECRET not in text, text
    assert "***" in text


def test_secrets_are_found_in_the_config_tree_and_urls(tmp_path: Path) -> None:
    path = tmp_path / "streams.yaml"
    path.write_text(
        f"""
version: 1
sites: [{{id: s, name: S}}]
edge_workers: [{{id: e}}]
cameras:
  - id: c
    name: C
    site: s
    worker: e
    source: {{type: rtsp, url: "rtsp://admin:p%40ss-{PASSWORD}@10.0.0.1/x"}}
channels:
  - id: hook
    type: webhook
    url: https://hooks.example/ioc
    secret: {WEBHOOK_SECRET}
""",
        encoding="utf-8",
    )
    secrets = secrets_of(load_config(path))
    assert {f"p%40ss-{PASSWORD}", f"p@ss-{PASSWORD}", WEBHOOK_SECRET} <= secrets
    redactor = SecretRedactor(secrets)
    assert redactor.redact(f"login failed for p@ss-{PASSWORD}") == "login failed for ***"
    assert redactor.redact("rtsp://admin:x@h/y?password=z") == "rtsp://admin:***@h/y?password=***"


def test_formatters_that_read_the_arguments_still_work(log_output: tuple[logging.Logger, io.StringIO]) -> None:
    """uvicorn's access log formats its record's `args` tuple itself: the arguments stay a tuple."""
    from uvicorn.logging import AccessFormatter

    logger, stream = log_output
    logger.info("camera %(url)s, retry %(n)d", {"url": f"rtsp://admin:{PASSWORD}@10.0.0.1/x", "n": 3})
    logger.handlers[0].setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/x?token={PASSWORD}", "1.1", 200)
    assert stream.getvalue().splitlines() == [
        f"INFO {logger.name}: camera rtsp://admin:***@10.0.0.1/x, retry 3",
        '127.0.0.1:5000 - "GET /api/x?token=*** HTTP/1.1" 200 OK',
    ]


def test_only_parameters_are_masked_not_words_that_end_like_one() -> None:
    redactor = SecretRedactor()
    assert redactor.redact("initdb --auth=trust") == "initdb --auth=trust"
    assert redactor.redact("host=db password=pw1 user=ioc") == "host=db password=*** user=ioc"
    assert redactor.redact("/x?monkey=1&token=t") == "/x?monkey=1&token=***"

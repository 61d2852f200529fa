"""README stays true: the config reference is current and every payload example is valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from contract import payloads
from contract.config.reference import embed_reference

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE = re.compile(r"```json payload=(\w+)\n(.*?)\n```", re.DOTALL)


def test_config_reference_in_readme_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert embed_reference(text) == text, "run: python -m contract.config.reference --write README.md"


def test_settings_reference_in_readme_is_current() -> None:
    from ioc.settings_reference import embed_settings

    text = README.read_text(encoding="utf-8")
    assert embed_settings(text) == text, "run: python -m ioc.settings_reference --write README.md"


def _examples() -> list[tuple[str, str]]:
    return EXAMPLE.findall(README.read_text(encoding="utf-8"))


def test_readme_has_an_example_for_every_topic_payload() -> None:
    documented = {name for name, _ in _examples()}
    assert documented >= {
        "ReadingPayload",
        "ReadingBatchPayload",
        "CameraStatusPayload",
        "EdgeStatusPayload",
        "DetectionEventPayload",
        "AlertPayload",
    }


@pytest.mark.parametrize(("model_name", "body"), _examples())
def test_readme_payload_example_is_valid(model_name: str, body: str) -> None:
    model = getattr(payloads, model_name)
    assert issubclass(model, BaseModel)
    parsed = model.model_validate_json(body)
    assert parsed.v == 1

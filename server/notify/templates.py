"""Per-channel body templates: Jinja2 in a sandbox (no attribute of Python internals, no code
run by a template), compiled once per channel. A template that fails to compile or render is
logged once per channel and the channel sends its default body, so a typo never loses a notice."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from contract.config.channels import BodyTemplate
from server.notify.outbox import Delivery

logger = logging.getLogger(__name__)


def _tojson(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class BodyRenderer:
    """Renders a channel's template for a delivery; `None` from `render` means: use the default."""

    def __init__(self, channel_id: str, template: BodyTemplate | None) -> None:
        self.channel_id = channel_id
        self.template = template
        self.failures = 0
        self._render: Callable[..., str] | None = None
        if template is not None:
            environment = ImmutableSandboxedEnvironment(autoescape=False)
            environment.filters["tojson"] = _tojson
            try:
                self._render = environment.from_string(template.text()).render
            except TemplateError as exc:
                self._fail(exc)

    @property
    def content_type(self) -> str:
        return "application/json" if self.template is None else self.template.content_type

    def render(self, delivery: Delivery) -> bytes | None:
        if self._render is None or self.template is None:
            return None
        alert = delivery.payload.model_dump(mode="json")
        try:
            return self._render(event=delivery.action, alert=alert, lang=self.template.language).encode()
        except Exception as exc:  # a sandbox refusal or a bad expression: the default body goes out
            self._fail(exc)
            return None

    def _fail(self, exc: Exception) -> None:
        self.failures += 1
        if self.failures == 1:
            logger.error("channel %s: its body template failed (%s); the default body is sent", self.channel_id, exc)

"""Which role each route needs: one table, matched on the route's path template and method.

The first matching rule wins. Routes no rule names fall back to the defaults: reading (GET, HEAD,
WebSocket) needs `viewer`, changing anything needs `operator`. `PUBLIC` routes need no login.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from server.auth.roles import Role

PUBLIC = None
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "WEBSOCKET"})


@dataclass(frozen=True, slots=True)
class PolicyRule:
    path: str
    """a path template as the router declares it; `*` at the end matches any rest"""
    role: Role | None
    methods: frozenset[str] = field(default_factory=frozenset)
    """empty: every method"""

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


def _post(path: str, role: Role) -> PolicyRule:
    return PolicyRule(path, role, frozenset({"POST", "PUT", "PATCH"}))


DEFAULT_RULES: tuple[PolicyRule, ...] = (
    PolicyRule("/", PUBLIC, frozenset({"GET", "HEAD"})),
    PolicyRule("/health", PUBLIC),
    PolicyRule("/openapi.json", PUBLIC),  # the API's description (FastAPI serves it; no data in it)
    PolicyRule("/docs*", PUBLIC),
    PolicyRule("/redoc", PUBLIC),
    PolicyRule("/api/health*", PUBLIC),
    PolicyRule("/api/auth/login", PUBLIC, frozenset({"POST"})),
    PolicyRule("/api/auth/*", Role.VIEWER),
    PolicyRule("/api/users*", Role.ADMIN),
    PolicyRule("/api/api-keys*", Role.ADMIN),
    PolicyRule("/api/dead-letters*", Role.OPERATOR),
    PolicyRule("/api/dead_letters*", Role.OPERATOR),
    _post("/api/live/{camera_id}/offer", Role.VIEWER),
    _post("/api/live/*", Role.VIEWER),
    # evidence: viewers watch clips; operators request recordings and build and export cases (a
    # viewer may watch live but never export); the audit log is for admins; the edge's API key
    # (operator) uploads clips
    PolicyRule("/api/evidence/audit*", Role.ADMIN),
    PolicyRule("/api/evidence/cases*", Role.OPERATOR),
    _post("/api/evidence/reviews", Role.RESPONDER),
    _post("/api/evidence/clips", Role.OPERATOR),
    _post("/api/evidence/cameras/{camera_id}/recording-requests", Role.OPERATOR),
    _post("/api/alerts/{alert_id}/ack", Role.RESPONDER),
    _post("/api/alerts/{alert_id}/acknowledge", Role.RESPONDER),
    # incidents: a responder acknowledges, starts, resolves, comments, attaches and ticks SOP steps
    # (closing needs an operator: the route checks it); the rest of the incident API needs an operator
    _post("/api/incidents/{incident_id}/transition", Role.RESPONDER),
    _post("/api/incidents/{incident_id}/comments", Role.RESPONDER),
    _post("/api/incidents/{incident_id}/attachments", Role.RESPONDER),
    _post("/api/incidents/{incident_id}/steps/{step_id}", Role.RESPONDER),
    _post("/api/handover", Role.RESPONDER),  # the outgoing shift writes its note, the next acknowledges it
    _post("/api/handover/{note_id}/acknowledge", Role.RESPONDER),
)


class RoutePolicy:
    def __init__(self, rules: tuple[PolicyRule, ...] = DEFAULT_RULES) -> None:
        self._rules = rules

    def required_role(self, method: str, path: str) -> Role | None:
        """The least role for `method` on the route template `path`; None means public."""
        method = method.upper()
        for rule in self._rules:
            if rule.matches(method, path):
                return rule.role
        return Role.VIEWER if method in SAFE_METHODS else Role.OPERATOR


_CONVERTER = re.compile(r"\{([^}:]+):[^}]*\}")


def template_of(path: str) -> str:
    """`/api/x/{id:path}` -> `/api/x/{id}`: converters do not change which rule applies."""
    return _CONVERTER.sub(r"{\1}", path)

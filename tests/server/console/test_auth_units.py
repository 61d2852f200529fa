"""Units of access control with no services: hashing, rate limiting, API key format, policy table."""

from __future__ import annotations

import av
import pytest

from server.auth.passwords import PasswordHashing, WeakPasswordError, check_password_policy
from server.auth.policy import RoutePolicy, template_of
from server.auth.ratelimit import LoginRateLimiter
from server.auth.roles import Role
from server.auth.tokens import api_key_prefix, new_api_key, same_digest
from server.live.h264 import nal_types, with_parameter_sets
from server.live.webrtc import drop_mdns_candidates


def test_argon2id_hashes_verify_and_never_raise() -> None:
    hashing = PasswordHashing(time_cost=1, memory_kib=8192, parallelism=1)
    stored = hashing.hash("mat-khau-dai-2026")
    assert stored.startswith("$argon2id$") and "mat-khau" not in stored
    assert hashing.verify(stored, "mat-khau-dai-2026")
    assert not hashing.verify(stored, "mat-khau-sai-2026")
    assert not hashing.verify(None, "mat-khau-dai-2026")  # unknown user: same work, False
    assert not hashing.verify("not-a-hash", "x")


def test_password_policy_messages() -> None:
    with pytest.raises(WeakPasswordError, match="at least 10 characters"):
        check_password_policy("short", "lan")
    with pytest.raises(WeakPasswordError, match="must not contain the user name"):
        check_password_policy("nguyenvanlan-2026", "nguyenvanlan")


def test_rate_limiter_blocks_per_key_until_the_window_passes() -> None:
    now = [0.0]
    limiter = LoginRateLimiter(max_failures=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("user:a", "addr:1") == 0
        limiter.failed("user:a", "addr:1")
    assert limiter.retry_after("user:a") == pytest.approx(60)
    assert limiter.retry_after("user:b", "addr:1") == pytest.approx(60)  # same address, other name
    assert limiter.retry_after("user:b", "addr:2") == 0
    now[0] = 61
    assert limiter.retry_after("user:a", "addr:1") == 0


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = LoginRateLimiter(max_failures=1, window_s=60, max_keys=100)
    for i in range(1000):
        limiter.failed(f"addr:{i}")
    assert limiter.retry_after("addr:999") > 0 and limiter.retry_after("addr:0") == 0


def test_api_keys_are_random_and_checked_by_digest() -> None:
    key = new_api_key()
    assert api_key_prefix(key.key) == key.prefix and len(key.key) > 40
    assert same_digest(key.key, key.sha256) and not same_digest(key.key + "x", key.sha256)
    assert api_key_prefix("ioc_short_x") is None and api_key_prefix("Bearer abc") is None
    assert new_api_key().key != key.key


def test_policy_defaults_and_rules() -> None:
    policy = RoutePolicy()
    assert policy.required_role("GET", "/api/anything") is Role.VIEWER
    assert policy.required_role("DELETE", "/api/anything") is Role.OPERATOR
    assert policy.required_role("WEBSOCKET", "/api/alerts/stream") is Role.VIEWER
    assert policy.required_role("GET", "/api/users/{user_id}") is Role.ADMIN
    assert policy.required_role("POST", "/api/auth/login") is None
    assert template_of("/api/x/{path:path}/y/{id}") == "/api/x/{path}/y/{id}"
    assert Role.ADMIN.allows(Role.RESPONDER) and not Role.RESPONDER.allows(Role.OPERATOR)


def test_keyframes_without_sps_get_the_parameter_sets() -> None:
    extradata = b"\x00\x00\x00\x01\x67\x42\x00\x1f" + b"\x00\x00\x00\x01\x68\xce\x3c\x80"
    idr = av.Packet(b"\x00\x00\x00\x01\x65\x88\x84\x00")
    idr.is_keyframe = True
    fixed = with_parameter_sets(idr, extradata)
    assert nal_types(bytes(fixed)) == {7, 8, 5}
    assert with_parameter_sets(fixed, extradata) is fixed  # already has its SPS
    delta = av.Packet(b"\x00\x00\x00\x01\x41\x9a")
    assert with_parameter_sets(delta, extradata) is delta


def test_mdns_candidates_are_dropped_from_offers() -> None:
    sdp = "v=0\r\na=candidate:1 1 udp 2122260223 3f1e.local 5000 typ host\r\n"
    sdp += "a=candidate:2 1 udp 1 10.0.0.2 5 typ host\r\n"
    kept = drop_mdns_candidates(sdp)
    assert ".local" not in kept and "10.0.0.2" in kept

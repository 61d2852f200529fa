"""The demo's weights when none is on disk: fetched into its work folder when online, reused after,
and a reason the operator can act on when they cannot be fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.demo.weights import DEMO_WEIGHTS, obtain_weights


class Fetcher:
    """Stands for the network: writes `body` where ultralytics would have saved the asset."""

    def __init__(self, body: bytes | None = b"weights", error: Exception | None = None) -> None:
        self.body, self.error = body, error
        self.calls: list[Path] = []

    def __call__(self, target: Path) -> Path:
        self.calls.append(target)
        if self.error is not None:
            raise self.error
        if self.body is not None:
            target.write_bytes(self.body)
        return target


def test_yolo_offline_means_no_download_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    fetch = Fetcher()
    weights = obtain_weights(tmp_path / "models", download=fetch, online=lambda: True)
    assert weights.path is None and "YOLO_OFFLINE" in weights.reason and not fetch.calls


def test_offline_machine_is_told_not_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    fetch = Fetcher()
    weights = obtain_weights(tmp_path / "models", download=fetch, online=lambda: False)
    assert weights.path is None and "offline" in weights.reason and not fetch.calls


def test_online_fetches_into_the_work_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    fetch = Fetcher()
    first = obtain_weights(tmp_path / "models", download=fetch, online=lambda: True)
    assert first.path == tmp_path / "models" / DEMO_WEIGHTS and first.path.read_bytes() == b"weights"
    again = obtain_weights(tmp_path / "models", download=fetch, online=lambda: True)
    assert again.path == first.path and len(fetch.calls) == 1, "the second start reuses the file"


@pytest.mark.parametrize(
    ("fetch", "said"),
    [(Fetcher(error=ConnectionError("name resolution failed")), "name resolution failed"), (Fetcher(None), "no file")],
)
def test_a_failed_download_is_a_reason_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetch: Fetcher, said: str
) -> None:
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    weights = obtain_weights(tmp_path / "models", download=fetch, online=lambda: True)
    assert weights.path is None and said in weights.reason

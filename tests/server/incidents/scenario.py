"""The district scenario of the end-to-end and browser tests: Long Phú (a salinity gauge and a
market camera) and Trần Đề; rules that open incidents by site; an SOP; an escalation policy that
repeats to a local webhook receiver until someone acknowledges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from contract.payloads import DetectionEventPayload

SECRET = "district-scenario-secret-0123456789"
STREAMS = """
version: 1
mqtt: {{topic_prefix: {prefix}, shared_group: null}}
sites: [{{id: long-phu, name: Huyện Long Phú}}, {{id: tran-de, name: Huyện Trần Đề}}]
edge_workers: [{{id: edge-1}}]
cameras:
  - id: cam-lp
    name: Cổng chợ Long Phú
    site: long-phu
    worker: edge-1
    source: {{type: rtsp, url: "rtsp://127.0.0.1:9/none"}}
    zones: [{{id: gate, points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}}]
sensors:
  - {{id: sal-lp, name: Độ mặn Long Phú, kind: salinity, unit: "‰", site: long-phu, range: {{min: 0, max: 45}}}}
  - {{id: sal-td, name: Độ mặn Trần Đề, kind: salinity, unit: "‰", site: tran-de, range: {{min: 0, max: 45}}}}
channels:
  - {{id: hook, type: webhook, url: "{url}", secret: "{secret}", max_attempts: 5}}
sops:
  - id: salinity-sop
    title: {{vi: Xâm nhập mặn trên 4‰, en: Saltwater intrusion above 4‰}}
    types: [salinity]
    steps:
      - {{id: notify-irrigation, text: {{vi: Báo trạm thủy nông huyện, en: Notify the irrigation station}}}}
      - {{id: close-sluice, text: {{vi: Đóng cống ngăn mặn, en: Close the sluice gate}}}}
      - {{id: loudspeakers, text: {{vi: Thông báo loa các xã, en: Commune loudspeakers}}, required: false}}
escalations:
  - id: district-duty
    sites: [long-phu]
    levels: [{{channels: [hook]}}]
    repeat_after: {repeat}
rules:
  - id: salinity-intrusion
    name: Xâm nhập mặn 4‰
    type: threshold
    sensor_kind: salinity
    raise: {{above: 4.0}}
    clear: {{below: 3.5}}
    severity: critical
    incident: {{type: salinity, window: 15m}}
  - id: market-crowd
    name: Đông người tại cổng chợ
    type: zone_occupancy
    camera: cam-lp
    zone: gate
    above: 5
    incident: {{type: crowd, window: 15m}}
"""


def write_scenario(directory: Path, prefix: str, url: str, repeat: str = "2s") -> Path:
    path = directory / "streams.yaml"
    path.write_text(STREAMS.format(prefix=prefix, url=url, secret=SECRET, repeat=repeat), encoding="utf-8")
    return path


def crowd_event(count: int = 12) -> DetectionEventPayload:
    return DetectionEventPayload.model_validate(
        {
            "id": uuid.uuid4().hex,
            "camera_id": "cam-lp",
            "worker_id": "edge-1",
            "kind": "zone_occupancy",
            "ts": datetime.now(UTC).isoformat(),
            "label": "person",
            "confidence": 0.9,
            "zone": "gate",
            "count": count,
        }
    )


def reading(value: float) -> str:
    return f'{{"v": 1, "value": {value}, "ts": "{datetime.now(UTC).isoformat()}"}}'

"""The live detections channel end to end: real RTSP (vtest.avi as H.264), the real model, a real
private Mosquitto or nats-server. Every detected frame gives one LiveDetectionsPayload (seq without
gaps, boxes equal to the tracked objects of the events); with the broker down they are dropped and
counted, and nothing of the outage is sent after it returns, while the outage's events are."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest

from contract.config import RtspSource
from contract.payloads import DetectionEventPayload, LiveDetectionsPayload
from contract.timeutil import utc_now
from edge.source.packets import PacketItem, PacketTap, VideoPacket
from edge.source.stream import VideoStream
from ioc.natsnode import NatsNode
from tests.edge.conftest import Recorder, WorkerRunner, camera, streams_yaml, write_yaml
from tests.fixtures.rtsp import RtspServerFactory
from tests.fixtures.services import MosquittoBroker

pytestmark = pytest.mark.timeout(90)

DETECT_FPS = 5.0
STEADY_S = 7.0
OUTAGE_S = 4.0


def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@dataclass
class Outage:
    down_at: datetime
    up_at: datetime

    def holds(self, ts: datetime, margin_s: float) -> bool:
        """`ts` lies well inside the outage (frames detected just before it or queued at its end aside)."""
        margin = timedelta(seconds=margin_s)
        return self.down_at + margin < ts < self.up_at - margin


@dataclass
class Seen:
    """What a subscriber received, in arrival order, with the index where the outage ended."""

    live: list[LiveDetectionsPayload] = field(default_factory=list)
    events: list[DetectionEventPayload] = field(default_factory=list)
    live_after_outage: int = 0


def check_steady(
    live: list[LiveDetectionsPayload], events: list[DetectionEventPayload], inferences: int, dropped: int
) -> None:
    """One message per detected frame (a loss is counted), seq increasing, the events' boxes among them."""
    seqs = [p.seq for p in live]
    assert seqs == sorted(set(seqs)), seqs  # increasing, no repeat
    missing = seqs[-1] - seqs[0] + 1 - len(seqs)
    assert missing <= min(dropped, 2), (missing, dropped)  # a live message that met a busy link, counted
    assert inferences - 3 <= seqs[-1] + 1 <= inferences, (seqs[-1], inferences)
    span = (live[-1].ts - live[0].ts).total_seconds()
    rate = (len(live) - 1) / span
    print(f"live: {len(live)} messages over {span:.1f} s = {rate:.2f}/s (detect fps {DETECT_FPS:g})")
    assert DETECT_FPS * 0.5 <= rate <= DETECT_FPS * 1.2
    by_ts = {p.ts: p for p in live}
    seen = [e for e in events if e.kind == "object_seen" and e.ts in by_ts]
    assert seen, "no object_seen event while the live channel was watched"
    for event in seen:
        objects = {o.track_id: o for o in by_ts[event.ts].objects}
        match = objects.get(event.track_id)
        assert match is not None, (event, by_ts[event.ts])
        assert (match.box, match.label, match.confidence) == (event.box, event.label, event.confidence)


def check_outage(seen: Seen, outage: Outage, counts_before: tuple[int, int], counts_after: tuple[int, int]) -> None:
    assert counts_after[1] - counts_before[1] >= OUTAGE_S * DETECT_FPS * 0.4, (counts_before, counts_after)
    after = seen.live[seen.live_after_outage :]
    assert after, "no live detections after the broker came back"
    replayed = [p.seq for p in after if outage.holds(p.ts, 0.8)]
    assert replayed == [], f"live detections of the outage sent after it: seqs {replayed}"
    assert all(p.ts > outage.down_at for p in after)
    outage_events = [e for e in seen.events if outage.holds(e.ts, 0.0)]
    print(f"outage: {counts_after[1] - counts_before[1]} live dropped, {len(outage_events)} events delivered after")
    assert outage_events, "no event of the outage was delivered after it"


def vtest_config(tmp_path: Path, rtsp_server: RtspServerFactory, vtest_clip: Path, prefix: str, model: Path) -> Path:
    server = rtsp_server({"vtest": vtest_clip}, fps=10)
    cam = camera("vtest", server.url("vtest"), detect={"fps": DETECT_FPS, "min_confidence": 0.3})
    return write_yaml(tmp_path / "streams.yaml", streams_yaml(prefix, [cam], model))


def live_counts(worker: Any) -> tuple[int, int]:
    counts = worker.cameras["vtest"].live.counts
    return counts.published, counts.dropped


def test_live_detections_over_mqtt_follow_every_detected_frame_and_drop_while_the_broker_is_down(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    vtest_clip: Path,
    model_path: Path,
    private_broker: MosquittoBroker,
    topic_prefix: str,
    run_worker: WorkerRunner,
) -> None:
    config = vtest_config(tmp_path, rtsp_server, vtest_clip, topic_prefix, model_path)
    recorder = Recorder(private_broker.host, private_broker.port, "#")
    recorder.start(f"rec-{topic_prefix}")
    worker = run_worker(config, private_broker.url)

    def received() -> Seen:
        live = recorder.select(lambda t, _: t == f"live/{topic_prefix}/cameras/vtest/detections")
        events = recorder.select(lambda t, _: t == f"{topic_prefix}/cameras/vtest/events")
        seen = Seen([LiveDetectionsPayload.model_validate(p) for p in live])
        seen.events = [DetectionEventPayload.model_validate(p) for p in events]
        return seen

    try:
        assert wait_until(lambda: len(received().live) >= 3, 30), "no live detections within 30 s"
        time.sleep(STEADY_S)
        steady = received()  # before the count: each inference is counted before its frame is offered
        inferences = worker.cameras["vtest"].pipeline.counters.inferences
        check_steady(steady.live, steady.events, inferences, live_counts(worker)[1])
        assert worker.stats().cameras[0].live_published == live_counts(worker)[0] > 0

        before, down_at = live_counts(worker), utc_now()
        private_broker.stop()
        time.sleep(OUTAGE_S)
        after_counts, up_at = live_counts(worker), utc_now()
        marker = len(received().live)
        private_broker.start()
        assert wait_until(lambda: len(received().live) >= marker + 10, 20), "live detections did not resume"
        assert wait_until(lambda: worker.spool.depth == 0, 10)
        time.sleep(1.0)
        seen = received()
        seen.live_after_outage = marker
        check_outage(seen, Outage(down_at, up_at), before, after_counts)
        assert worker.stats().cameras[0].live_dropped == live_counts(worker)[1] >= after_counts[1]
    finally:
        recorder.stop()


class NatsWatcher:
    """A core NATS subscriber on the live subjects, on its own loop thread, reconnecting."""

    def __init__(self, url: str, subject: str) -> None:
        self.live: list[LiveDetectionsPayload] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._nc: Any = asyncio.run_coroutine_threadsafe(self._connect(url, subject), self._loop).result(10)

    async def _connect(self, url: str, subject: str) -> Any:
        nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        await nc.subscribe(subject, cb=self._on_message)
        return nc

    async def _on_message(self, message: Any) -> None:
        with self._lock:
            self.live.append(LiveDetectionsPayload.model_validate_json(message.data))

    def received(self) -> list[LiveDetectionsPayload]:
        with self._lock:
            return list(self.live)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._nc.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


async def stream_events(url: str, subject: str) -> list[DetectionEventPayload]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    events: list[DetectionEventPayload] = []
    subscription = await js.pull_subscribe(subject, durable=None)
    pending = (await subscription.consumer_info()).num_pending or 0
    while len(events) < pending:
        for message in await subscription.fetch(500, timeout=5):
            events.append(DetectionEventPayload.model_validate(json.loads(message.data)))
            await message.ack()
    await nc.close()
    return events


def test_live_detections_over_jetstream_are_core_nats_outside_the_stream_and_drop_while_it_is_down(
    tmp_path: Path,
    rtsp_server: RtspServerFactory,
    vtest_clip: Path,
    model_path: Path,
    nats_node: NatsNode,
    topic_prefix: str,
    run_worker: WorkerRunner,
) -> None:
    config = vtest_config(tmp_path, rtsp_server, vtest_clip, topic_prefix, model_path)
    watcher = NatsWatcher(nats_node.url, f"live.{topic_prefix}.cameras.*.detections")
    worker = run_worker(config, nats_node.mqtt_url, transport="jetstream", nats_url=nats_node.url)
    events_subject = f"{topic_prefix}.cameras.vtest.events"
    try:
        assert wait_until(lambda: len(watcher.received()) >= 3, 30), "no live detections within 30 s"
        time.sleep(STEADY_S)
        live = watcher.received()  # before the count: each inference is counted before its frame is offered
        inferences = worker.cameras["vtest"].pipeline.counters.inferences
        assert wait_until(lambda: worker.spool.depth == 0, 10)
        events = asyncio.run(stream_events(nats_node.url, events_subject))
        check_steady(live, events, inferences, live_counts(worker)[1])

        before, down_at = live_counts(worker), utc_now()
        nats_node.kill()
        time.sleep(OUTAGE_S)
        after_counts, up_at = live_counts(worker), utc_now()
        marker = len(watcher.received())
        nats_node.start()
        nats_node.wait_jetstream()
        assert wait_until(lambda: len(watcher.received()) >= marker + 10, 20), "live detections did not resume"
        assert wait_until(lambda: worker.spool.depth == 0 and worker.publisher.connected, 10)
        seen = Seen(watcher.received(), asyncio.run(stream_events(nats_node.url, events_subject)), marker)
        check_outage(seen, Outage(down_at, up_at), before, after_counts)
    finally:
        watcher.close()


class PacketStamps:
    """A packet sink that remembers when each packet was demuxed, by pts."""

    def __init__(self) -> None:
        self.by_pts: dict[int, datetime] = {}

    def offer(self, item: PacketItem) -> None:
        if isinstance(item, VideoPacket) and item.pts is not None:
            self.by_pts[item.pts] = item.ts


def test_live_frames_are_stamped_with_their_packets_arrival_not_their_decode(
    rtsp_server: RtspServerFactory, vtest_clip: Path, tmp_path: Path
) -> None:
    server = rtsp_server({"vtest": vtest_clip}, fps=10)
    source = RtspSource(url=server.url("vtest"))
    tap, stamps, stop = PacketTap(), PacketStamps(), threading.Event()
    tap.add(stamps)
    stream = VideoStream(source, tmp_path, stop, tap)
    stream.open()
    lags: list[float] = []
    try:
        for decoded in stream.frames():
            assert decoded.frame.pts is not None
            assert decoded.ts == stamps.by_pts[decoded.frame.pts]  # the arrival of its own packet
            assert decoded.decode_lag_s >= 0
            lags.append(decoded.decode_lag_s)
            if len(lags) >= 40:
                break
    finally:
        stream.close()
    lags.sort()
    print(f"decode lag (arrival -> out of the decoder): median {lags[20] * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms")
    assert lags[-1] > 0  # a decode-time stamp would be later than the arrival by this much

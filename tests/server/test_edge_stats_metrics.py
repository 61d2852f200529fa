"""The edge workers' drops and rates reach the server's /metrics: their stats messages (QoS 0 on
`<prefix>/edge/<id>/stats`, over MQTT or as a core NATS publish) are kept per configured worker and
exported when scraped; an unknown worker or an unreadable message is refused and counted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from prometheus_client.parser import text_string_to_metric_families

from contract.jetstream import subject_of
from contract.payloads import CameraStats, EdgeStatsPayload, RecordingStats, SenderStats
from ioc.natsnode import NatsNode
from tests.messaging.helpers import jetstream_settings
from tests.server.helpers import Publisher, make_settings, running_app, wait_until, write_streams


def stats(worker_id: str = "edge-1", spool_dropped: int = 7) -> bytes:
    return EdgeStatsPayload(
        worker_id=worker_id,
        ts=datetime.now(UTC),
        cameras=[
            CameraStats(
                camera_id="gate", fps_in=15, fps_decoded=14.5, fps_detected=5, frames_dropped=3, live_dropped=11
            )
        ],
        spool_depth=42,
        spool_dropped=spool_dropped,
        recording=RecordingStats(queue_dropped=2, clips_dropped=1),
        sender=SenderStats(
            transport="mqtt",
            connected=False,
            alive=True,
            stalled=True,
            seconds_since_progress=31,
            acknowledged=100,
            resent=0,
            restarts=3,
        ),
    ).to_json()


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families((await client.get("/metrics")).text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def check_exported(client: httpx.AsyncClient) -> None:
    async def arrived() -> bool:
        return 'ioc_edge_spool_depth{worker="edge-1"}' in await scrape(client)

    await wait_until(arrived, 15, "the edge stats on /metrics")
    samples = await scrape(client)
    assert samples['ioc_edge_spool_depth{worker="edge-1"}'] == 42
    assert samples['ioc_edge_sender_stalled{worker="edge-1"}'] == 1
    assert samples['ioc_edge_dropped{what="spool",worker="edge-1"}'] == 7
    assert samples['ioc_edge_dropped{what="recording_queue",worker="edge-1"}'] == 2
    assert samples['ioc_edge_dropped{what="clips",worker="edge-1"}'] == 1
    assert samples['ioc_edge_camera_dropped{camera="gate",what="frames"}'] == 3
    assert samples['ioc_edge_camera_dropped{camera="gate",what="live"}'] == 11
    assert samples['ioc_edge_camera_fps{camera="gate",kind="detected"}'] == 5
    assert 0 <= samples['ioc_edge_stats_age_seconds{worker="edge-1"}'] < 15
    assert samples["ioc_edge_stats_refused_total"] == 0


async def test_edge_stats_over_mqtt_reach_metrics_and_bad_ones_are_counted(
    pg_database: str, mqtt_broker: Any, publisher: Publisher, tmp_path: Path, topic_prefix: str
) -> None:
    settings = make_settings(pg_database, mqtt_broker.url, write_streams(tmp_path, topic_prefix))
    async with running_app(settings) as client:
        publisher.publish_all([(f"{topic_prefix}/edge/edge-1/stats", stats())])
        await check_exported(client)
        publisher.publish_all(
            [
                (f"{topic_prefix}/edge/edge-9/stats", stats("edge-9")),  # not in streams.yaml
                (f"{topic_prefix}/edge/edge-1/stats", b'{"v":1,"worker_id":"edge-1"'),  # cut short
                (f"{topic_prefix}/edge/edge-1/stats", stats("edge-2")),  # another worker's, on edge-1's topic
                (f"{topic_prefix}/edge/edge-1/stats", stats(spool_dropped=9)),
            ]
        )

        async def newest() -> bool:
            return (await scrape(client)).get('ioc_edge_dropped{what="spool",worker="edge-1"}') == 9

        await wait_until(newest, 15, "the newest stats")
        samples = await scrape(client)
        assert samples["ioc_edge_stats_refused_total"] == 3
        assert not any('worker="edge-9"' in key for key in samples), "an unknown worker makes no series"


async def test_edge_stats_over_core_nats_reach_metrics(
    pg_database: str, nats_node: NatsNode, tmp_path: Path, topic_prefix: str
) -> None:
    streams = write_streams(tmp_path, topic_prefix)
    settings = jetstream_settings(pg_database, nats_node.url, nats_node.mqtt_url, streams)
    async with running_app(settings) as client:
        connection = await nats.connect(nats_node.url)
        try:

            async def published_and_arrived() -> bool:  # the server's plain subscription may come a moment later
                await connection.publish(subject_of(f"{topic_prefix}/edge/edge-1/stats"), stats())
                await connection.flush()
                return 'ioc_edge_spool_depth{worker="edge-1"}' in await scrape(client)

            await wait_until(published_and_arrived, 15, "the edge stats over NATS")
            await check_exported(client)
        finally:
            await connection.close()

"""The recorder on the message bus: recording requests from the server (a command topic) and the
recorded ranges of each camera (retained, republished every `interval_s`). Its own MQTT client, so
the event publisher is never held up by either."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from contract.mqttclient import MqttProtocol, make_client
from contract.mqtturl import MqttEndpoint
from contract.payloads import RecordingRangesPayload, RecordRequestPayload
from contract.timeutil import utc_now
from contract.topics import Topics
from edge.record.index import epoch, utc
from edge.record.recorder import Recorder

logger = logging.getLogger(__name__)

JOIN_GAP_S = 2.0  # segments closer than this are one recorded range
RANGES_WINDOW_S = 7 * 86400.0  # report the last week


class RecordCommands:
    def __init__(
        self,
        recorder: Recorder,
        endpoint: MqttEndpoint,
        topics: Topics,
        interval_s: float,
        protocol: MqttProtocol = "5",
    ) -> None:
        self._recorder = recorder
        self._endpoint = endpoint
        self._protocol = protocol
        self._topics = topics
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish_loop, name="record-ranges", daemon=True)
        self._client: mqtt.Client | None = None
        self.requests = 0
        self._lost = False

    def start(self) -> None:
        client = make_client(self._endpoint, f"ioc-edge-rec-{self._recorder.worker_id}", protocol=self._protocol)
        topic = self._topics.record_requests(self._recorder.worker_id)

        def on_connect(c: mqtt.Client, *_: Any) -> None:
            c.subscribe(topic, qos=1)
            if self._lost:
                self._lost = False
                logger.info("recorder: the MQTT broker is back")

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, *_: Any) -> None:
            if not self._lost and not self._stop.is_set():
                self._lost = True
                logger.warning("recorder: lost the MQTT broker (%s); recording requests wait, reconnecting", reason)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = self._on_message
        client.connect_async(self._endpoint.host, self._endpoint.port)
        client.loop_start()
        self._client = client
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            request = RecordRequestPayload.model_validate_json(message.payload)
        except ValidationError:
            logger.warning("recording request on %s is not valid: ignored", message.topic)
            return
        accepted = self._recorder.request_range(
            request.camera_id, epoch(request.start), epoch(request.end), request.request_id
        )
        self.requests += 1
        logger.info(
            "camera %s: recording request %s from %s %s",
            request.camera_id,
            request.request_id,
            request.requested_by or "?",
            "accepted" if accepted else "refused (not recorded here)",
        )

    def _publish_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.publish_ranges()
            except Exception:
                logger.exception("publishing recorded ranges failed; retrying")

    def publish_ranges(self) -> None:
        if self._client is None:
            return
        now = time.time()
        for camera_id in self._recorder.index.cameras():
            spans = self._recorder.index.ranges(camera_id, now - RANGES_WINDOW_S, now + 60, JOIN_GAP_S)
            payload = RecordingRangesPayload(
                camera_id=camera_id,
                worker_id=self._recorder.worker_id,
                ts=utc_now(),
                ranges=[(utc(a), utc(b)) for a, b in spans],
            )
            self._client.publish(self._topics.camera_recordings(camera_id), payload.to_json(), qos=1, retain=True)

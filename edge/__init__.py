"""The edge worker: RTSP cameras -> motion gate -> detection -> tracking -> events -> MQTT."""

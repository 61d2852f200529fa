"""Frame sources: RTSP cameras and looping files, decoded with PyAV, owned by a supervisor."""

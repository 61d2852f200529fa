"""Live view: one camera pull per camera relayed to every WebRTC viewer (H.264 passed through),
plus a JPEG/MJPEG fallback decoded from keyframes."""

"""Object detection: a Detector protocol, a registry of back-ends, and batching across cameras."""

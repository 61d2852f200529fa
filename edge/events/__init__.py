"""Events from tracks: object seen / gone, zone enter / exit / loitering / occupancy, line crossings."""

from edge.events.engine import CameraEventEngine
from edge.events.model import EventDraft, TrackedObject

__all__ = ["CameraEventEngine", "EventDraft", "TrackedObject"]

"""The evaluator for each rule `type`."""

from __future__ import annotations

from server.alerts.evaluators.base import Evaluator
from server.alerts.evaluators.camera import CameraOfflineEvaluator
from server.alerts.evaluators.lines import LineCrossedEvaluator
from server.alerts.evaluators.nodata import NoDataEvaluator
from server.alerts.evaluators.rate import RateOfChangeEvaluator
from server.alerts.evaluators.threshold import ThresholdEvaluator
from server.alerts.evaluators.zones import LoiteringEvaluator, ObjectInZoneEvaluator, ZoneOccupancyEvaluator


def default_evaluators() -> dict[str, Evaluator]:
    return {
        "threshold": ThresholdEvaluator(),
        "rate_of_change": RateOfChangeEvaluator(),
        "no_data": NoDataEvaluator(),
        "object_in_zone": ObjectInZoneEvaluator(),
        "zone_occupancy": ZoneOccupancyEvaluator(),
        "loitering": LoiteringEvaluator(),
        "line_crossed": LineCrossedEvaluator(),
        "camera_offline": CameraOfflineEvaluator(),
    }

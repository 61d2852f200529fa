"""Detection overlay: the edge's detection events, fanned out per camera to live viewers."""

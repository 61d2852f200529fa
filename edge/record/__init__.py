"""Recording at the edge: segments remuxed from each camera's own stream, event clips, uploads."""

"""The napari face: reader, writer, sample, docks and the conversions they use."""

DOCK_WIDTH = 340
"""Most pixels a dock takes: at 1400 x 900 the canvas keeps well over half the window."""

"""The napari face: both docks, and the layers they show the project in.

Rooms, by what the user sees: :mod:`.layers` turns a project into napari layers and back
(reader, writer, sample, skeletons, tracks); :mod:`.training` is the "Run Training…" dock;
:mod:`.labelling` is the "Label & Suggest…" dock. Both docks use the layers room, never
each other; what they share beyond it lives here.
"""

DOCK_WIDTH = 340
"""Most pixels a dock takes: at 1400 x 900 the canvas keeps well over half the window."""

META_KEY = "napari_sleap_train"
"""The key of a layer's metadata under which this plugin keeps its project and the layer's kind."""

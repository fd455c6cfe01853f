"""The project in napari layers and back: reader, writer, sample, points, skeletons and tracks."""

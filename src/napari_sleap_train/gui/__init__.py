"""The napari face: reader, writer, sample, layer conversion and the training dock."""

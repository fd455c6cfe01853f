"""SLEAP-style animal pose estimation in napari: label, train, predict, track."""

__version__ = "0.1.0"

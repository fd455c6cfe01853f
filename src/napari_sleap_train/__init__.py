"""Train SLEAP-style top-down pose estimation models inside napari."""

__version__ = "0.1.0"

"""Which frames to label next: from the video and its labels, or from a trained model."""

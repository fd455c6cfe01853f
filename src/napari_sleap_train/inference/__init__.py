"""Prediction: peak finding, the top-down predictor, frame selection, results."""

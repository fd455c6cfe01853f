"""The "Run Training…" dock: settings, previews, the run, its monitor, runs and predicting."""

"""The "Label & Suggest…" dock: suggestions, editing labels, the skeleton, tracks and saving."""

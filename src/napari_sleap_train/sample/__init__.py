"""The built-in sample: a synthetic video of a few animals and its labels, made in code."""

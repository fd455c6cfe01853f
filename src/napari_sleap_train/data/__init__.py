"""Training data: confidence maps, anchors and crop size, augmentation, model datasets."""

"""Naming the animals of one frame from an ID model's class probabilities."""

from __future__ import annotations

import numpy as np

from napari_sleap_train.inference.identity import assign_identities


def test_two_animals_never_share_a_name_in_one_frame():
    # both look most like class 0; the second is more sure of it, so it keeps it
    probs = np.array([[0.6, 0.3, 0.1], [0.9, 0.05, 0.05]])
    classes, scores = assign_identities(probs)
    assert classes.tolist() == [1, 0]
    assert np.allclose(scores, [0.3, 0.9])


def test_more_animals_than_identities_leaves_the_least_likely_unnamed():
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.5, 0.5]])
    classes, scores = assign_identities(probs)
    assert sorted(classes.tolist()) == [-1, 0, 1] and classes[2] == -1 and scores[2] == 0


def test_no_animals():
    classes, scores = assign_identities(np.zeros((0, 3)))
    assert classes.shape == scores.shape == (0,)

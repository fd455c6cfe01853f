import hashlib
import shutil

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.io.project import ProjectError, load_project

from ..conftest import SLP_FILES, require_data


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("path", SLP_FILES, ids=lambda p: p.name)
def test_every_shared_project_opens_without_modifying_it(path):
    before = _sha(path)
    project = load_project(path)
    assert project.videos and project.node_names
    assert all(v.exists() for v in project.videos)
    assert _sha(path) == before


def test_numpy_views_of_a_labelled_project():
    project = load_project(require_data("minimal_instance.slp"))
    pts = project.user_instances_array()
    assert pts.shape == (2, 2, 2)
    assert np.isfinite(pts).all()
    assert project.flip_index == [0, 1]
    assert project.labelled_frame_indices(project.videos[0]) == {0}


def test_missing_path_says_so(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(tmp_path / "nope.slp")


def test_not_hdf5_says_so(tmp_path):
    bad = tmp_path / "bad.slp"
    bad.write_text("this is not a SLEAP file")
    with pytest.raises(ProjectError, match="not a SLEAP project"):
        load_project(bad)


def test_truncated_file_says_so(tmp_path):
    src = require_data("centered_pair_predictions.slp")
    bad = tmp_path / "truncated.slp"
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
    with pytest.raises(ProjectError, match="truncated or corrupt"):
        load_project(bad)


def test_missing_video_lists_where_it_looked_then_search_dirs_find_it(tmp_path):
    src = require_data("minimal_instance.slp")
    copy = tmp_path / "moved.slp"
    shutil.copy(src, copy)
    with pytest.raises(ProjectError, match="Looked in") as err:
        load_project(copy)
    assert str(tmp_path) in str(err.value)
    project = load_project(copy, search_dirs=[src.parent])
    assert project.videos[0].exists()
    assert _sha(copy) == _sha(src)


def test_save_is_atomic_and_keeps_a_backup(tmp_path):
    src = require_data("minimal_instance.slp")
    target = tmp_path / "project.slp"
    shutil.copy(src, target)
    project = load_project(target, search_dirs=[src.parent])
    inst = project.user_frames()[0].user_instances[0]
    inst.points["xy"][0] += 5.0
    project.save()
    assert (tmp_path / "project.slp.bak").read_bytes() == src.read_bytes()
    saved = sio.load_slp(str(target))
    assert np.allclose(saved.labeled_frames[0].user_instances[0].numpy()[0], inst.numpy()[0])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_save_to_missing_folder_fails_clearly(tmp_path):
    project = load_project(require_data("minimal_instance.slp"))
    with pytest.raises(ProjectError, match="does not exist"):
        project.save(tmp_path / "no" / "such" / "dir.slp")

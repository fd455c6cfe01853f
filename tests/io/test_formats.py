"""Other tools' labels through sleap-io: real DeepLabCut folders, and every format sleap-io
writes read back through our path."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import sleap_io as sio

from napari_sleap_train.cli import main
from napari_sleap_train.errors import ProjectError
from napari_sleap_train.io.formats import detect_format, load_any, save_any
from napari_sleap_train.io.project import load_project
from napari_sleap_train.io.video import LazyVideo

from ..conftest import require_data

DLC = "dlc/labeled-data/video"


@pytest.mark.parametrize(
    "name,instances,tracks",
    [
        ("dlc_testdata.csv", 3, set()),  # single animal
        ("madlc_testdata.csv", 5, {"Animal1", "Animal2"}),  # multi-animal
        ("maudlc_testdata.csv", 7, {"Animal1", "Animal2", "single"}),  # + unique parts
        ("CollectedData_LM.csv", 7, {"Animal1", "Animal2", "single"}),
    ],
)
def test_deeplabcut_labelled_data_opens_with_its_images(name, instances, tracks):
    path = require_data(f"{DLC}/{name}")
    assert detect_format(path) == "dlc"
    project = load_project(path)
    assert project.path is None  # saving asks for a .slp: the CSV is never written over
    labels = project.labels
    assert sum(len(lf.instances) for lf in labels.labeled_frames) == instances
    assert {i.track.name for lf in labels.labeled_frames for i in lf.instances if i.track} == tracks
    video = LazyVideo(labels.videos[0])  # the folder of images is the video
    assert video.shape[:3] == (4, 30, 30)
    assert video.frame(labels.labeled_frames[0].frame_idx).shape[:2] == (30, 30)


def test_a_two_folder_deeplabcut_project():
    frames = 0
    for folder, name in (("video1", "dlc_dataset_1.csv"), ("video2", "dlc_dataset_2.csv")):
        labels = load_project(require_data(f"dlc_multiple_datasets/{folder}/{name}")).labels
        assert LazyVideo(labels.videos[0]).shape[1:] == (320, 560, 3)
        frames += len(labels.labeled_frames)
    assert frames == 3


def test_deeplabcut_labels_without_their_images_say_so(tmp_path):
    csv = shutil.copy(require_data(f"{DLC}/madlc_testdata.csv"), tmp_path)
    with pytest.raises(ProjectError, match="images are missing.*beside the labels file"):
        load_any(csv)


def test_an_unknown_file_names_the_formats_that_work(tmp_path):
    (tmp_path / "notes.json").write_text('{"a": 1}')
    with pytest.raises(ProjectError, match="not a labels file.*coco: COCO keypoints.*nwb"):
        load_project(tmp_path / "notes.json")


@pytest.mark.parametrize(
    "fmt,name,exact",
    [
        ("nwb", "s.nwb", True),
        ("coco", "s.json", True),
        ("labelstudio", "ls.json", False),  # sleap-io orders the nodes its own way
        ("analysis_h5", "s.analysis.h5", True),
        ("ultralytics", "yolo", False),  # normalised coordinates
        ("slp", "s.slp", True),
    ],
)
def test_sleap_io_writers_read_back_through_our_path(sample_paths, tmp_path, fmt, name, exact):
    labels = sio.load_slp(str(sample_paths.project))
    out = save_any(labels, tmp_path / name, fmt)
    assert detect_format(out) == fmt
    back = load_project(out).labels
    assert sum(len(lf.instances) for lf in back.labeled_frames) == 60

    def centres(lbls) -> list[list[float]]:
        """Centres of the instances' visible nodes (Label Studio keeps where a hidden node
        is but not that it is hidden: there, of every stored node)."""
        return sorted(
            np.nanmean(i.points["xy"] if fmt == "labelstudio" else i.numpy(), axis=0)
            .round(1)
            .tolist()
            for lf in lbls.labeled_frames
            for i in lf.instances
        )

    want, got = centres(labels), centres(back)
    np.testing.assert_allclose(got, want, atol=1e-3 if exact else 0.6)
    assert set(back.skeletons[0].node_names) == set(labels.skeletons[0].node_names)


def test_convert_from_the_command_line(tmp_path, capsys):
    source = require_data(f"{DLC}/madlc_testdata.csv")
    assert main(["convert", str(source), "-o", str(tmp_path / "dlc.slp")]) == 0
    assert "from dlc to slp" in capsys.readouterr().out
    back = sio.load_slp(str(tmp_path / "dlc.slp"))
    assert sum(len(lf.instances) for lf in back.labeled_frames) == 5
    assert main(["convert", str(tmp_path / "dlc.slp"), "-o", str(tmp_path / "d.nwb")]) == 0
    assert main(["convert", str(tmp_path / "dlc.slp"), "-o", str(tmp_path / "x.xyz")]) == 2
    assert "give --format" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "dlc.slp"), "-o", str(tmp_path / "dlc.slp")]) == 2


def test_a_jabs_pose_file_written_by_sleap_io_opens_with_its_video(tmp_path):
    """sleap-io writes JABS files for its mouse skeleton only, so the poses are made here;
    the video (an .mp4, where sleap-io's reader assumes an .avi) is found beside them."""
    from sleap_io.io.jabs import JABS_DEFAULT_SKELETON as MOUSE

    shutil.copy(require_data("small_robot.mp4"), tmp_path / "mice.mp4")
    video = sio.load_video(str(tmp_path / "mice.mp4"))
    tracks = [sio.Track("1"), sio.Track("2")]
    rng = np.random.default_rng(0)
    frames = [
        sio.LabeledFrame(
            video=video,
            frame_idx=f,
            instances=[
                sio.PredictedInstance.from_numpy(
                    rng.uniform(20, 200, (12, 2)),
                    skeleton=MOUSE,
                    point_scores=np.ones(12),
                    score=1.0,
                    track=t,
                )
                for t in tracks
            ],
        )
        for f in (0, 3, 4)
    ]
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[MOUSE], tracks=tracks)
    sio.save_jabs(labels, 5, None)  # beside the video
    pose_file = tmp_path / "mice_pose_est_v5.h5"
    assert detect_format(pose_file) == "jabs"
    project = load_project(pose_file)
    back = project.labels
    assert [lf.frame_idx for lf in back.labeled_frames] == [0, 3, 4]
    assert LazyVideo(back.videos[0]).shape[0] == LazyVideo(video).shape[0]

    def poses(lbls) -> np.ndarray:
        return np.stack(
            [
                i.numpy()
                for lf in sorted(lbls.labeled_frames, key=lambda lf: lf.frame_idx)
                for i in sorted(lf.instances, key=lambda i: i.track.name)
            ]
        )

    np.testing.assert_allclose(poses(back), poses(labels), atol=1.0)  # JABS keeps whole pixels
    assert {t.name for t in back.tracks} == {"1", "2"}

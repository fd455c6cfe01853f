"""Other tools' label files, read and written through sleap-io (no napari or Qt).

:func:`detect_format` tells a file's format from its name and, where names are shared
(``.json``, ``.h5``, ``.csv``), from a look inside; :func:`load_any` reads it as
``sio.Labels``; :func:`save_any` writes labels in any format sleap-io writes, atomically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import attrs
import h5py
import sleap_io as sio

from ..atomic import atomic_path
from ..errors import ProjectError
from .video_readers import MEDIA_SUFFIXES

READ_FORMATS: dict[str, str] = {
    "slp": "SLEAP project (.slp, .pkg.slp)",
    "dlc": "DeepLabCut labelled data (CollectedData_*.csv beside its images)",
    "coco": "COCO keypoints (.json)",
    "labelstudio": "Label Studio export (.json)",
    "nwb": "NWB pose estimation (.nwb)",
    "jabs": "JABS pose file (.h5)",
    "analysis_h5": "SLEAP analysis HDF5 (.h5)",
    "ultralytics": "Ultralytics YOLO pose (data.yaml, or its folder)",
}
WRITE_FORMATS: dict[str, str] = {
    "slp": ".slp",
    "nwb": ".nwb",
    "coco": ".json",
    "labelstudio": ".json",
    "analysis_h5": ".h5",
    "ultralytics": "a folder",
}
FOREIGN_PATTERNS = ("*.csv", "*.json", "*.nwb", "*.h5", "*.hdf5", "*.yaml", "*.yml")


def formats_text(formats: dict[str, str] = READ_FORMATS) -> str:
    """The formats in words, for messages."""
    return "; ".join(f"{name}: {what}" for name, what in formats.items())


def _json_format(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and {"images", "annotations"} <= set(data):
        return "coco"
    if isinstance(data, list) and data and isinstance(data[0], dict) and "data" in data[0]:
        return "labelstudio"
    return None


def _h5_format(path: Path) -> str | None:
    if not h5py.is_hdf5(path):
        return None
    try:
        with h5py.File(path, "r") as f:
            keys = set(f)
    except OSError:
        return None
    if "tracks" in keys and "node_names" in keys:
        return "analysis_h5"
    if "poseest" in keys:
        return "jabs"
    return None


def _csv_format(path: Path) -> str | None:
    try:
        with path.open("r", errors="replace") as f:
            first = f.readline()
    except OSError:
        return None
    return "dlc" if first.split(",")[0].strip().lower() == "scorer" else None


def detect_format(path: str | os.PathLike) -> str | None:
    """The :data:`READ_FORMATS` name of a file or folder, or None when it is none of them."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir():
        return "ultralytics" if (p / "data.yaml").is_file() else None
    suffix = p.suffix.lower()
    if name.endswith(".slp"):
        return "slp"
    if suffix == ".nwb":
        return "nwb"
    if suffix in (".yaml", ".yml"):
        return "ultralytics" if name.startswith("data.") else None
    if suffix == ".json":
        return _json_format(p)
    if suffix in (".h5", ".hdf5"):
        return _h5_format(p)
    if suffix == ".csv":
        return _csv_format(p)
    return None


def load_any(path: str | os.PathLike) -> sio.Labels:
    """Labels from any format of :data:`READ_FORMATS`, with a message saying what to change
    for a file that is none of them or cannot be read."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ProjectError(f"{p} does not exist. Check the path.")
    fmt = detect_format(p)
    if fmt is None:
        raise ProjectError(
            f"{p.name} is not a labels file this plugin reads. Formats read: {formats_text()}."
        )
    try:
        labels = _ultralytics(p) if fmt == "ultralytics" else sio.load_file(str(p), format=fmt)
    except FileNotFoundError as exc:
        raise ProjectError(
            f"{p.name} ({READ_FORMATS[fmt]}) names a file that is not there: {exc}. Keep "
            "the images or videos where the labels file expects them."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - a foreign reader may fail in many ways
        raise ProjectError(
            f"{p.name} could not be read as {READ_FORMATS[fmt]} ({type(exc).__name__}: {exc})."
        ) from exc
    if not isinstance(labels, sio.Labels):
        raise ProjectError(f"{p.name} holds no labels.")
    if fmt == "jabs":
        _jabs_video(labels, p)
    _check_images(labels, p)
    return labels


def _jabs_video(labels: sio.Labels, pose_file: Path) -> None:
    """Point a JABS pose file's video (sleap-io assumes ``<name>.avi`` beside
    ``<name>_pose_est_vN.h5``) at the video of that name beside it, whatever its suffix,
    and keep only the frames that hold an animal (JABS files have a row for every frame)."""
    labels.labeled_frames = [lf for lf in labels.labeled_frames if lf.instances]
    stem = re.sub(r"_pose_est_v\d+$", "", pose_file.stem)
    for video in labels.videos:
        if isinstance(video.filename, str) and not Path(video.filename).exists():
            found = [pose_file.with_name(stem + s) for s in sorted(MEDIA_SUFFIXES)]
            found = [f for f in found if f.exists()]
            if found:
                video.replace_filename(str(found[0].resolve()), open=False)


def _ultralytics(path: Path) -> sio.Labels:
    """Every split (train, val, test) of an Ultralytics dataset as one set of labels."""
    root = path.parent if path.is_file() else path
    parts = [
        sio.load_ultralytics(str(root), split=split)
        for split in ("train", "val", "test")
        if (root / split).is_dir()
    ]
    if not parts:
        raise FileNotFoundError(f"no train, val or test folder in {root}")
    labels = parts[0]
    for more in parts[1:]:
        labels.videos.extend(more.videos)
        for lf in more.labeled_frames:
            lf.instances = [attrs.evolve(i, skeleton=labels.skeletons[0]) for i in lf.instances]
            labels.append(lf)
    return labels


def _check_images(labels: sio.Labels, source: Path) -> None:
    """Refuse labels whose image files are missing (a DeepLabCut folder without images)."""
    if not labels.videos:
        raise ProjectError(
            f"{source.name}: its images are missing, so it opens no video. Keep the labelled "
            "frames beside the labels file, as DeepLabCut's labeled-data folders hold them."
        )
    for video in labels.videos:
        names = video.filename if isinstance(video.filename, list) else [video.filename]
        missing = [n for n in names if n and not Path(n).exists()]
        if missing and isinstance(video.filename, list):
            raise ProjectError(
                f"{source.name}: {len(missing)} of its {len(names)} images are missing "
                f"(first: {missing[0]}). Keep the labelled frames beside the labels file, as "
                "DeepLabCut's labeled-data folders hold them."
            )


def save_any(labels: sio.Labels, path: str | os.PathLike, format: str | None = None) -> Path:
    """Write ``labels`` as ``format`` (a :data:`WRITE_FORMATS` name; default: from the
    suffix) to ``path`` atomically; returns the path written."""
    target = Path(path).expanduser().resolve()
    fmt = format or _format_from_suffix(target)
    if fmt not in WRITE_FORMATS:
        raise ProjectError(f"Cannot write {fmt!r}; formats written: {formats_text(WRITE_FORMATS)}.")
    if fmt == "ultralytics":
        return _save_folder(labels, target)
    if fmt == "coco":
        return _save_coco(labels, target)
    with atomic_path(target, error=ProjectError) as tmp:
        sio.save_file(labels, str(tmp), format=fmt, **({"verbose": False} if fmt == "slp" else {}))
    return target


def _save_coco(labels: sio.Labels, target: Path) -> Path:
    """COCO keypoints: the JSON, and each labelled frame as a PNG in ``<name>_images/``
    beside it (COCO files name images, they do not hold them)."""
    import cv2

    from .video import LazyVideo

    folder = target.with_name(f"{target.stem}_images")
    folder.mkdir(exist_ok=True)
    names = []
    videos = {id(v): LazyVideo(v) for v in labels.videos}
    try:
        for lf in labels.labeled_frames:
            index = next(i for i, v in enumerate(labels.videos) if v is lf.video)
            name = f"{folder.name}/video{index}_frame{lf.frame_idx:06d}.png"
            image = videos[id(lf.video)].frame(lf.frame_idx)
            image = image[..., ::-1] if image.shape[-1] == 3 else image  # OpenCV writes BGR
            with atomic_path(target.parent / name, error=ProjectError) as tmp:
                if not cv2.imwrite(str(tmp.with_suffix(".png")), image):
                    raise ProjectError(f"Cannot write {name}.")
                tmp.with_suffix(".png").rename(tmp)
            names.append(name)
    finally:
        for video in videos.values():
            video.close()
    with atomic_path(target, error=ProjectError) as tmp:
        sio.save_coco(labels, str(tmp), image_filenames=names)
    return target


def _format_from_suffix(target: Path) -> str:
    name = target.name.lower()
    if name.endswith(".slp"):
        return "slp"
    by_suffix = {".nwb": "nwb", ".json": "coco", ".h5": "analysis_h5"}
    fmt = by_suffix.get(target.suffix.lower())
    if fmt is None:
        raise ProjectError(
            f"Cannot tell the format from {target.name}; give --format "
            f"({', '.join(WRITE_FORMATS)})."
        )
    return fmt


def _save_folder(labels: sio.Labels, target: Path) -> Path:
    """Write a folder format next to ``target`` first, then move it into place."""
    if target.exists() and not target.is_dir():
        raise ProjectError(f"{target} is a file; Ultralytics datasets are folders.")
    if not target.parent.is_dir():
        raise ProjectError(f"{target.parent} does not exist; create it first.")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        sio.save_file(labels, str(tmp), format="ultralytics")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target

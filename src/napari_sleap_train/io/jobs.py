"""Training job packages: label on a laptop, train on a GPU workstation or a cluster node.

A job is one ``.zip`` holding the user-labelled frames with their images embedded
(``labels.pkg.slp``, written by sleap-io, so no video is needed), the training
configuration and a ``README.txt`` with the exact command to run it.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import sleap_io as sio

from ..atomic import atomic_path
from ..config import TrainingConfig
from ..errors import DataError, JobError
from .project import Project, load_project

LABELS_FILE = "labels.pkg.slp"
CONFIG_FILE = "training_config.json"
README_FILE = "README.txt"


def job_commands(name: str) -> str:
    """How to run a job called ``name``: one GPU, or several with torchrun."""
    return (
        f"napari-sleap-train train {name} --out models --device cuda --amp\n"
        f"torchrun --nproc_per_node=N -m napari_sleap_train train {name} --out models\n"
    )


def export_job(project: Project, config: TrainingConfig, out: str | os.PathLike) -> Path:
    """Write the job package ``out`` (a ``.zip``) atomically; returns its path."""
    config.validate()
    out = Path(out).expanduser().resolve()
    if out.suffix.lower() != ".zip":
        raise JobError(f"{out.name}: a training job is a .zip file; name it e.g. job.zip.")
    frames = [
        sio.LabeledFrame(video=lf.video, frame_idx=lf.frame_idx, instances=list(lf.user_instances))
        for lf in project.labels.labeled_frames
        if lf.user_instances
    ]
    if not frames:
        raise DataError("No user-labelled frames to export: label some frames first.")
    labels = sio.Labels(
        labeled_frames=frames,
        videos=list(project.labels.videos),
        skeletons=list(project.labels.skeletons),
        tracks=list(project.labels.tracks),
    )
    readme = (
        f"napari-sleap-train training job: {len(frames)} labelled frames, "
        f"{sum(len(f.instances) for f in frames)} instances, skeleton "
        f"{', '.join(project.node_names)}.\n\nRun it with:\n{job_commands(out.name)}"
    )
    with (
        atomic_path(out, error=JobError) as part,
        tempfile.TemporaryDirectory(dir=out.parent, prefix=".job.") as tmp,
    ):
        labels_file = Path(tmp) / LABELS_FILE
        sio.save_slp(labels, str(labels_file), embed="user", verbose=False)
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(labels_file, LABELS_FILE)
            zf.writestr(CONFIG_FILE, config.to_json())
            zf.writestr(README_FILE, readme)
    return out


def open_job(path: str | os.PathLike, work_dir: str | os.PathLike | None = None):
    """Unpack a job into ``work_dir`` (default: a new temporary folder).

    Returns ``(project, config)``.
    """
    path = Path(path)
    if not path.is_file():
        raise JobError(f"Training job {path} does not exist.")
    try:
        with zipfile.ZipFile(path) as zf:
            missing = {LABELS_FILE, CONFIG_FILE} - set(zf.namelist())
            if missing:
                raise JobError(
                    f"{path} is not a complete training job (missing {', '.join(sorted(missing))}"
                    "); export it again with `napari-sleap-train export-job`."
                )
            target = Path(work_dir or tempfile.mkdtemp(prefix="napari-sleap-train-job-"))
            target.mkdir(parents=True, exist_ok=True)
            zf.extractall(target, members=[LABELS_FILE, CONFIG_FILE])
    except zipfile.BadZipFile as exc:
        raise JobError(f"{path} is not a zip file: export the job again.") from exc
    return load_project(target / LABELS_FILE), TrainingConfig.load(target / CONFIG_FILE)

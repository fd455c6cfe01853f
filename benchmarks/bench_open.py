"""Projects of real size in napari: open, switch video, scrub, save, memory, first batch.

Builds (once, in ``--work``) a project of ``--videos`` synthetic videos of ``--frames``
frames each (small moving blobs, MJPG), with ``--instances`` predicted instances of a
24-node skeleton spread over them and 100 labelled frames per video, then in a real
viewer (run under ``xvfb-run``) prints: seconds to open until the first frame shows,
seconds to switch video, milliseconds per frame step while scrubbing, seconds to save,
peak memory (RSS), and seconds until training on the labelled frames of every video
yields its first batch.

Run: ``xvfb-run -a .venv/bin/python benchmarks/bench_open.py [--videos 20] [--frames 5000]
[--instances 200000]``
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import sleap_io as sio

N_NODES = 24
SIZE = 128


def _write_video(path: Path, n_frames: int, seed: int) -> None:
    import cv2

    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (SIZE, SIZE), False)
    base = (rng.random((SIZE, SIZE)) * 60 + 100).astype(np.uint8)
    for t in range(n_frames):
        frame = base.copy()
        y, x = int(40 + 30 * np.sin(t / 50)), int(40 + 30 * np.cos(t / 70))
        frame[y : y + 20, x : x + 20] = 30
        writer.write(frame)
    writer.release()


def build(work: Path, n_videos: int, n_frames: int, n_instances: int) -> Path:
    """The project file (made once)."""
    path = work / f"big_{n_videos}x{n_frames}_{n_instances}.slp"
    if path.exists():
        return path
    work.mkdir(parents=True, exist_ok=True)
    skeleton = sio.Skeleton(nodes=[f"n{i}" for i in range(N_NODES)], name="big")
    skeleton.add_edges([(skeleton.nodes[i], skeleton.nodes[i + 1]) for i in range(N_NODES - 1)])
    rng = np.random.default_rng(0)
    per_video = n_instances // n_videos
    labels = sio.Labels(skeletons=[skeleton])
    for v in range(n_videos):
        file = work / f"video{v:02d}.avi"
        if not file.exists():
            _write_video(file, n_frames, v)
        video = sio.Video.from_filename(str(file))
        labels.videos.append(video)
        per_frame = max(1, per_video // n_frames)
        frames = np.sort(rng.choice(n_frames, size=per_video // per_frame, replace=False))
        labelled = set(rng.choice(frames, size=min(100, len(frames)), replace=False).tolist())
        for f in frames:
            insts = []
            for _ in range(per_frame):
                pts = rng.uniform(10, SIZE - 10, (N_NODES, 2))
                if int(f) in labelled:
                    insts.append(sio.Instance.from_numpy(pts, skeleton=skeleton))
                else:
                    insts.append(
                        sio.PredictedInstance.from_numpy(
                            pts, skeleton=skeleton, point_scores=np.ones(N_NODES), score=1.0
                        )
                    )
            labels.append(sio.LabeledFrame(video=video, frame_idx=int(f), instances=insts))
    sio.save_slp(labels, str(path))
    return path


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--instances", type=int, default=200_000)
    parser.add_argument("--work", type=Path, default=Path("out/bench_open"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    path = build(args.work, args.videos, args.frames, args.instances)
    print(f"project: {path} (built or found in {time.perf_counter() - t0:.1f} s)")

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_sleap_train.gui.layers.project_layers import ProjectLayers, show_video

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    before = peak_mb()
    t0 = time.perf_counter()
    viewer.open(str(path), plugin="napari-sleap-train")
    app.processEvents()
    viewer.window._qt_viewer.canvas.native.repaint()
    app.processEvents()
    opened = time.perf_counter() - t0
    print(f"open until the first frame shows: {opened:.2f} s ({len(viewer.layers)} layers)")

    t0 = time.perf_counter()
    show_video(viewer, 1)
    app.processEvents()
    print(f"switch video: {time.perf_counter() - t0:.2f} s")

    steps, slicing = [], []
    for f in range(0, 400, 4):
        t0 = time.perf_counter()
        viewer.dims.set_current_step(0, f)
        t1 = time.perf_counter()
        app.processEvents()
        steps.append(time.perf_counter() - t0)
        slicing.append(t1 - t0)
    print(
        f"frame step while scrubbing: median {1000 * np.median(steps):.1f} ms, p90 "
        f"{1000 * np.percentile(steps, 90):.1f} ms (slicing {1000 * np.median(slicing):.1f} "
        "ms, the rest drawing and Qt)"
    )

    viewer.window.add_plugin_dock_widget("napari-sleap-train", "Run Training…")
    viewer.window.add_plugin_dock_widget("napari-sleap-train", "Label & Suggest…")
    app.processEvents()
    docked = []
    for f in range(400, 800, 4):
        t0 = time.perf_counter()
        viewer.dims.set_current_step(0, f)
        app.processEvents()
        docked.append(time.perf_counter() - t0)
    print(f"frame step with both docks open: median {1000 * np.median(docked):.1f} ms")

    layers = ProjectLayers(viewer)
    t0 = time.perf_counter()
    project = layers.rebuild()
    project.save(args.work / "saved.slp", backup=True)
    arrays = "as the file's arrays" if project.is_lazy else "as objects"
    print(f"save: {time.perf_counter() - t0:.2f} s (the project held {arrays})")
    print(f"peak memory: {peak_mb():.0f} MB (before opening {before:.0f} MB)")

    from napari_sleap_train.config import default_preset, preset
    from napari_sleap_train.training.pipeline import pipeline_events

    config = preset(default_preset())
    t0 = time.perf_counter()
    events = pipeline_events(project, config, args.work / "models")
    first = next(e for e in events if type(e).__name__ == "BatchEnded")
    print(f"training yields its first batch after {time.perf_counter() - t0:.1f} s ({first})")
    events.close()
    viewer.close()


if __name__ == "__main__":
    main()

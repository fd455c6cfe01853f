"""View Training Image Inputs: augmented samples of each model and their targets as layers."""

from __future__ import annotations

from ..config import TrainingConfig
from ..project import Project


def show_training_inputs(viewer, project: Project, config: TrainingConfig, n: int = 6) -> list:
    """Add ``n`` augmented training samples of every model and their target maps as Image
    layers (replacing earlier ones); returns the layers."""
    import torch

    from ..data.datasets import CentroidData, InstanceData, load_labelled_data, resolve_crop_size

    data = load_labelled_data(project, config.pipeline.anchor_part)
    gen = torch.Generator().manual_seed(0)
    rows = list(range(data.n_frames))
    instance = config.model("centered_instance")
    crop, _ = resolve_crop_size(data, instance)
    added = []
    for ds in (
        CentroidData(data, rows, config.model("centroid")),
        InstanceData(data, rows, instance, crop),
    ):
        idx = torch.randint(len(ds), (min(n, len(ds)),), generator=gen)
        x, y = ds.batch(idx, gen, augment=True)
        title = ds.kind.label
        for name in (f"{title} inputs", f"{title} targets"):
            if name in viewer.layers:
                viewer.layers.remove(name)
        rgb = x.shape[1] == 3
        img = x.permute(0, 2, 3, 1).numpy() if rgb else x[:, 0].numpy()
        added.append(viewer.add_image(img, name=f"{title} inputs", rgb=rgb, contrast_limits=[0, 1]))
        added.append(
            viewer.add_image(
                y.max(1).values.numpy(),
                name=f"{title} targets",
                colormap="magma",
                blending="additive",
                opacity=0.6,
                contrast_limits=[0, 1],
                scale=(1, ds.output_stride, ds.output_stride),
                translate=(0, 0, 0),
            )
        )
    return added

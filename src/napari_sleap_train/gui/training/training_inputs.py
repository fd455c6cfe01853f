"""View Training Image Inputs: augmented samples of each model and their targets as layers
(for a bottom-up model also its part affinity fields, for a bottom-up-ID model its class
map per track; for a top-down-ID model the identities of the samples, said in a message
and kept in the inputs layer's metadata)."""

from __future__ import annotations

from napari.utils.notifications import show_info

from ...config import TrainingConfig
from ...io.project import Project


def show_training_inputs(viewer, project: Project, config: TrainingConfig, n: int = 6) -> list:
    """Add ``n`` augmented training samples of every model of the pipeline and their target
    maps as Image layers (replacing earlier ones); returns the layers."""
    import torch

    from ...data.camera_view import resolve_camera_view
    from ...data.labelled import load_labelled_data
    from ...training.preparation import datasets_for

    data = load_labelled_data(project, config.pipeline.anchor_part)
    config, _ = resolve_camera_view(config, data.instances_array())  # rotated as in training
    gen = torch.Generator().manual_seed(0)
    added = []
    for kind in config.models:
        ds = datasets_for(kind, data, config)[0]
        idx = torch.randint(len(ds), (min(n, len(ds)),), generator=gen)
        x, y = ds.batch(idx, gen, augment=True)
        title = ds.kind.label
        n_nodes = getattr(ds, "n_nodes", ds.n_maps)
        maps = {f"{title} targets": y[:, :n_nodes].max(1).values}
        names = getattr(ds, "class_names", None) if kind.crops else None
        if names:  # an ID model: the animal at each crop's centre
            said = [names[k] for k in y[:, n_nodes:, 0, 0].argmax(1).tolist()]
            show_info(f"{title}: the samples show " + ", ".join(said) + ".")
        elif kind.identities:  # class maps: one per track
            for k, name in enumerate(ds.class_names):
                maps[f"{title} class map {name}"] = y[:, n_nodes + k]
        elif y.shape[1] > n_nodes:  # part affinity fields: the length of each edge's vector
            pafs = y[:, n_nodes:].reshape(len(y), -1, 2, *y.shape[-2:])
            maps[f"{title} part affinity fields"] = pafs.norm(dim=2).max(1).values
        for name in (f"{title} inputs", *maps):
            if name in viewer.layers:
                viewer.layers.remove(name)
        rgb = x.shape[1] == 3
        img = x.permute(0, 2, 3, 1).numpy() if rgb else x[:, 0].numpy()
        inputs = viewer.add_image(img, name=f"{title} inputs", rgb=rgb, contrast_limits=[0, 1])
        if names:
            inputs.metadata["identities"] = said
        added.append(inputs)
        for name, values in maps.items():
            added.append(
                viewer.add_image(
                    values.numpy(),
                    name=name,
                    colormap="magma" if "targets" in name else "cyan",
                    blending="additive",
                    opacity=0.6,
                    contrast_limits=[0, 1],
                    scale=(1, ds.output_stride, ds.output_stride),
                    translate=(0, 0, 0),
                )
            )
    return added

"""Device and precision choice."""

from __future__ import annotations

import pytest
import torch

from napari_sleap_train.errors import ConfigError
from napari_sleap_train.models import ConfmapModel, UNetSpec
from napari_sleap_train.models.device import resolve_device


def test_precision_choice_and_bf16_agreement() -> None:
    from napari_sleap_train.models.device import (
        autocast,
        cpu_has_bf16,
        resolve_precision,
        to_layout,
    )

    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if cpu_has_bf16() else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp8", cpu)
    torch.manual_seed(0)
    model = ConfmapModel(UNetSpec(in_channels=1, max_stride=8, filters=8), 3).eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.inference_mode():
        ref = model(x)
        model.to(memory_format=torch.channels_last)
        with autocast(cpu, "bf16"):
            fast = model(to_layout(x, True)).float()
    assert fast.shape == ref.shape
    assert (fast - ref).abs().max() < 0.05 * ref.abs().max()


def test_devices_resolve_and_a_missing_gpu_is_a_config_problem():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is available"):
            resolve_device("cuda")

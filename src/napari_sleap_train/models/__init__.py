"""U-Net backbone, confidence-map model and receptive field.

The U-Net names are imported on first use, so ``receptive_field_px`` (pure Python) is
available without importing torch.

See Also
--------
napari_sleap_train.models.unet : `UNetSpec`, `UNet`, `ConfmapModel`.
napari_sleap_train.models.receptive_field : receptive-field sizes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .receptive_field import receptive_field, receptive_field_px, unet_receptive_field
from .spec import UNetSpec

if TYPE_CHECKING:
    from .unet import ConfmapModel, UNet, check_input_shape

__all__ = [
    "ConfmapModel",
    "UNet",
    "UNetSpec",
    "check_input_shape",
    "receptive_field",
    "receptive_field_px",
    "unet_receptive_field",
]

_LAZY = frozenset({"ConfmapModel", "UNet", "check_input_shape"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(".unet", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""What every model's network has: its backbone, its augmentation and its optimisation."""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import Schedule
from .settings import Rule, Setting

# ----- backbone --------------------------------------------------------------------------
MAX_STRIDE = Setting(
    "Max stride",
    "How far the network shrinks the image (a power of two). Larger sees more context "
    "(a larger receptive field) but needs inputs a multiple of it.",
    unit="px",
    lo=2,
    hi=128,
    power_of_two=True,
    options=(8, 16, 32, 64),
)
FILTERS = Setting(
    "Filters",
    "Feature channels of the first layer; more learn more but run slower.",
    lo=1,
    hi=256,
)
OUTPUT_STRIDE = Setting(
    "Output stride",
    "Resolution of the predicted maps relative to the input (1 = full).",
    lo=1,
    hi=64,
    power_of_two=True,
    options=(1, 2, 4, 8, 16),
)


@dataclass
class BackboneConfig:
    """The U-Net backbone."""

    max_stride: int = MAX_STRIDE.field(16)
    filters: int = FILTERS.field(16)
    filters_rate: float = Setting(
        "Filters rate",
        "Factor by which the channels grow at each down-sampling step.",
        lo=1.0,
        hi=4.0,
        step=0.5,
    ).field(2.0)
    output_stride: int = OUTPUT_STRIDE.field(2)
    convs_per_block: int = Setting(
        "Convolutions per block", "3×3 convolutions in each U-Net block.", lo=1, hi=8
    ).field(2)

    def rules(self) -> Rule:
        if self.output_stride > self.max_stride:
            yield (
                "output_stride",
                (f"{self.output_stride} is larger than max stride {self.max_stride}; lower it."),
            )


# ----- augmentation ------------------------------------------------------------------------
def _switch(label: str, help: str) -> Setting:
    return Setting(label, help)


def _grey(label: str, help: str) -> Setting:
    return Setting(label, help, unit="grey levels", lo=-255, hi=255, step=1)


@dataclass
class AugmentationConfig:
    """Augmentation applied identically to images and keypoints while training, with the
    fields and defaults of SLEAP's augmentation config."""

    rotation: bool = _switch("Rotate", "Randomly rotate training images (and labels).").field(True)
    rotation_deg: float = Setting(
        "Rotation ±°", "Largest random rotation.", unit="°", lo=0, hi=180, step=5
    ).field(15.0)
    scale: bool = _switch("Scale", "Randomly resize training images.").field(False)
    scale_min: float = Setting(
        "Scale min", "Smallest random scale factor.", lo=0, hi=4, lo_open=True, step=0.05
    ).field(0.9)
    scale_max: float = Setting(
        "Scale max", "Largest random scale factor.", lo=0, hi=4, lo_open=True, step=0.05
    ).field(1.1)
    translate: bool = _switch("Translate", "Randomly shift training images.").field(False)
    translate_px: float = Setting(
        "Translate ±px", "Largest random shift along each axis.", unit="px", lo=0, hi=1000
    ).field(0.0)
    uniform_noise: bool = _switch("Uniform noise", "Add uniform per-pixel noise.").field(False)
    uniform_noise_min: float = _grey("Uniform noise min", "Lowest noise value.").field(0.0)
    uniform_noise_max: float = _grey("Uniform noise max", "Highest noise value.").field(10.0)
    gaussian_noise: bool = _switch("Noise", "Add random Gaussian noise to training images.").field(
        False
    )
    gaussian_noise_mean: float = _grey("Noise mean", "Mean of the Gaussian noise.").field(0.0)
    gaussian_noise_std: float = Setting(
        "Noise std", "Spread of the Gaussian noise.", unit="grey levels", lo=0, hi=255
    ).field(1.0)
    contrast: bool = _switch("Contrast", "Randomly change image contrast.").field(False)
    contrast_min_gamma: float = Setting(
        "Contrast min gamma", "Smallest gamma.", lo=0, hi=10, lo_open=True
    ).field(0.5)
    contrast_max_gamma: float = Setting(
        "Contrast max gamma", "Largest gamma.", lo=0, hi=10, lo_open=True
    ).field(2.0)
    brightness: bool = _switch("Brightness", "Randomly change image brightness.").field(False)
    brightness_min: float = _grey("Brightness min", "Smallest brightness offset.").field(0.0)
    brightness_max: float = _grey("Brightness max", "Largest brightness offset.").field(10.0)
    hflip: bool = _switch(
        "Flip left/right", "Randomly mirror images, swapping left and right body parts."
    ).field(False)
    hflip_prob: float = Setting(
        "Flip probability", "Chance that a training image is mirrored.", lo=0, hi=1
    ).field(0.5)

    def rules(self) -> Rule:
        for low, high in (
            ("scale_min", "scale_max"),
            ("uniform_noise_min", "uniform_noise_max"),
            ("contrast_min_gamma", "contrast_max_gamma"),
            ("brightness_min", "brightness_max"),
        ):
            a, b = getattr(self, low), getattr(self, high)
            if a > b:
                yield low, f"needs {low} <= {high} ({a:g} > {b:g})."


# ----- optimisation ------------------------------------------------------------------------
@dataclass
class OptimizationConfig:
    """Optimiser, schedule and stopping rules of one model."""

    epochs: int = Setting(
        "Epochs", "Most passes of training; early stopping usually ends sooner.", lo=1, hi=100000
    ).field(200)
    batches_per_epoch: int = Setting(
        "Batches per epoch", "Training steps between two validations.", lo=1, hi=1000000
    ).field(200)
    batch_size: int = Setting(
        "Batch size",
        "Samples per training step. Lower it if memory runs out.",
        lo=1,
        hi=4096,
    ).field(4)
    learning_rate: float = Setting(
        "Learning rate",
        "Step size of the optimiser (Adam); the peak rate with the cosine schedule.",
        lo=0,
        hi=1,
        lo_open=True,
        step=1e-5,
    ).field(1e-4)
    validation_fraction: float = Setting(
        "Validation fraction",
        "Share of labelled frames held out to measure progress.",
        lo=0,
        hi=1,
        hi_open=True,
        step=0.05,
    ).field(0.1)
    early_stopping_patience: int = Setting(
        "Early stopping patience", "Epochs without improvement before training stops.", lo=1
    ).field(15)
    early_stopping_min_delta: float = Setting(
        "Early stopping min delta",
        "Smallest drop of the validation loss that counts as an improvement.",
        lo=0,
        hi=1,
        step=1e-8,
    ).field(1e-8)
    plateau_factor: float = Setting(
        "Plateau factor",
        "The learning rate is multiplied by this when validation stalls.",
        lo=0,
        hi=1,
        lo_open=True,
        hi_open=True,
    ).field(0.5)
    plateau_patience: int = Setting(
        "Plateau patience", "Epochs without improvement before the rate drops.", lo=1
    ).field(5)
    plateau_cooldown: int = Setting(
        "Plateau cooldown", "Epochs to wait after a drop before watching again.", lo=0
    ).field(3)
    plateau_min_lr: float = Setting(
        "Plateau minimum rate", "The rate never drops below this.", lo=0
    ).field(1e-8)
    time_limit_minutes: float | None = Setting(
        "Time limit",
        "Stop training this model after this many minutes, keeping its best checkpoint.",
        unit="min",
        lo=0,
        lo_open=True,
        none="no limit",
        step=0.5,
    ).field(None)
    schedule: Schedule = Setting(
        "Learning rate schedule",
        "plateau: halve the rate when validation stalls (SLEAP). cosine: warm up, then decay "
        "smoothly to the end of the time limit or the last epoch (fast CPU).",
    ).field(Schedule.PLATEAU)
    seed: int = Setting("Seed", "Random seed of the split, the order and augmentation.").field(0)

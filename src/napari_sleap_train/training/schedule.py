"""Learning-rate schedules: SLEAP's reduce-on-plateau, or a warm-up then cosine decay."""

from __future__ import annotations

import math

import torch

from ..config.network import OptimizationConfig


def plateau_scheduler(
    optimizer: torch.optim.Optimizer, opt_cfg: OptimizationConfig
) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """Lower the learning rate when the validation loss stops improving (SLEAP's schedule)."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=opt_cfg.plateau_factor,
        patience=opt_cfg.plateau_patience,
        cooldown=opt_cfg.plateau_cooldown,
        min_lr=opt_cfg.plateau_min_lr,
        threshold=opt_cfg.early_stopping_min_delta,
        threshold_mode="abs",
    )


def cosine_lr(peak: float, progress: float, warmup: float = 0.03) -> float:
    """Learning rate at ``progress`` in [0, 1]: linear warm-up, then cosine decay to 2 %."""
    p = min(max(progress, 0.0), 1.0)
    if p < warmup:
        return peak * (0.1 + 0.9 * p / warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (p - warmup) / (1 - warmup))))

"""The training loop shared by every model.

:func:`train_events` is a generator of :mod:`events <napari_sleap_train.training.events>`,
yielding once per batch, so a GUI worker can plot progress and stop it;
:func:`train_model` runs it to the end with an optional callback.
"""

from __future__ import annotations

import gc
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..choices import ModelKind, Schedule
from ..config import TrainingConfig
from ..data.camera_view import resolve_camera_view
from ..data.checks import (
    with_batch_size,
)
from ..data.datasets import (
    ModelData,
)
from ..data.labelled import LabelledData, load_labelled_data
from ..errors import TrainingError
from ..io.project import Project
from ..models import ConfmapModel
from ..models.device import (
    autocast,
    resolve_device,
    resolve_precision,
    to_layout,
    use_channels_last,
)
from ..models.folder import ModelFolder, build_model
from . import distributed
from .checkpoints import check_writable, load_matching_weights, resume_state
from .events import (
    AnyStop,
    BatchEnded,
    EpochEnded,
    StopToken,
    TrainingEvent,
    TrainingFinished,
    TrainingStarted,
)
from .preparation import datasets_for, model_info, unet_spec
from .schedule import cosine_lr, plateau_scheduler

if TYPE_CHECKING:
    from .unlabelled import UnlabelledLoss

OOM_WORDS = (
    "out of memory",
    "allocate memory",
    "could not create a primitive",  # oneDNN (CPU) when its workspace cannot be allocated
)


def _is_oom(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(words in text for words in OOM_WORDS)


def _oom_error(kind: str, exc: BaseException) -> TrainingError:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    what = "Crop Size or Input Scaling" if ModelKind(kind).crops else "Input Scaling"
    return TrainingError(
        f"Out of memory while training the {kind} model. Lower Batch Size or {what}, "
        f"or the number of filters, and run again. ({type(exc).__name__})"
    )


def train_events(
    kind: ModelKind | str,
    project: Project | None,
    config: TrainingConfig,
    model_dir: str | os.PathLike,
    *,
    stop: StopToken | AnyStop | None = None,
    data: LabelledData | None = None,
    init_weights: str | os.PathLike | None = None,
    resume: bool = False,
    resume_from: str | os.PathLike | None = None,
    notes: list[str] | None = None,
    unlabelled: Callable[[ModelData, object], tuple[UnlabelledLoss | None, list[str]]]
    | None = None,
) -> Iterator[TrainingEvent]:
    """Train one model of the top-down pipeline, yielding an event per batch and epoch.

    Parameters
    ----------
    kind
        The model to train, one of ``config.models``.
    project
        The labelled project (ignored when ``data`` is given).
    config
        The whole training configuration; the part of model ``kind`` is used.
    model_dir
        Folder to write the model to (created; must be writable).
    stop
        Token whose request ends the run at the next batch, keeping the best model.
    data
        Already decoded labelled frames, to share between the two models.
    init_weights
        A model folder of the same architecture to start from (fine-tuning).
    resume
        Continue the interrupted run in ``model_dir`` from its ``last.pt`` (weights,
        optimiser, epoch, best loss, time spent): the same epoch count, schedule and time
        limit as if it had not stopped.
    resume_from
        The same, continuing the run of another model folder into ``model_dir``.
    notes
        Sentences for the user, said when training starts before the model's own.
    unlabelled
        Makes the loss on unlabelled frame pairs of this model (from its training data and
        settings; see :mod:`.unlabelled`), learnt beside every labelled batch.
    """
    config.validate()
    kind = ModelKind(kind)
    section = config.model(kind)
    opt_cfg = section.optimization
    folder = ModelFolder(Path(model_dir))
    group = distributed.current()
    if group.main:
        check_writable(folder.path)
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // group.world))
    torch.manual_seed(opt_cfg.seed)
    gen = torch.Generator().manual_seed(opt_cfg.seed + group.rank)
    # Every process draws the same sample order and trains on its own share of it.
    shuffle = gen if group.world == 1 else torch.Generator().manual_seed(opt_cfg.seed)

    if data is None:
        if project is None:
            raise ValueError("Give a project or decoded data.")
        data = load_labelled_data(project, config.pipeline.anchor_part)
    config, view = resolve_camera_view(config, data.instances_array())
    section = config.model(kind)
    first_notes = list(notes or [])
    train, val, notes, extra = datasets_for(ModelKind(kind), data, config)
    notes[:0] = [*first_notes, view]
    batch_size, note = with_batch_size(len(train) // group.world, opt_cfg.batch_size)
    if note:
        notes.append(note)
    unsup = None
    if unlabelled is not None:
        unsup, said = unlabelled(train, section)
        notes.extend(said)
    spec = unet_spec(section.backbone, data.channels)
    info = model_info(kind, config, data, train, spec, extra)
    model = build_model(info)
    if init_weights is not None:
        load_matching_weights(model, ModelFolder(Path(init_weights)), info)
        notes.append(f"Starting from the weights of {init_weights}.")
    precision = resolve_precision(config.precision, device)
    channels_last = use_channels_last(device)
    if precision in ("bf16", "fp16"):
        notes.append(f"Mixed precision: {precision} autocast, float32 weights.")
    if group.world > 1:
        notes.append(
            f"Data-parallel training: {group.world} processes (this is rank {group.rank})."
        )
    model.to(
        device, memory_format=torch.channels_last if channels_last else torch.contiguous_format
    )
    net = group.wrap(model, device)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    optimizer = torch.optim.Adam(model.parameters(), lr=opt_cfg.learning_rate)
    scheduler = plateau_scheduler(optimizer, opt_cfg)
    start_epoch, best_loss, best_epoch, wait, log, spent = 0, math.inf, -1, 0, [], 0.0
    source = folder if resume else ModelFolder(Path(resume_from)) if resume_from else None
    if source is not None:
        state = resume_state(source, model, optimizer, scheduler)
        start_epoch, best_loss = int(state["epoch"]) + 1, float(state["best_val_loss"])
        best_epoch, wait = int(state["best_epoch"]), int(state["wait"])
        spent = float(state.get("elapsed", 0.0))
        gen.set_state(state["generator"])
        log = source.read_log()
        if best_epoch >= 0:
            info.best_epoch, info.best_val_loss = best_epoch + 1, best_loss
        if source.path != folder.path and group.main and source.best.exists():
            shutil.copy2(source.best, folder.best)
        notes.append(f"Resuming at epoch {start_epoch + 1} of {source.path}.")
    if group.main:
        config.save(folder.config_file)
        folder.write_info(info)

    val_batches = _fixed_batches(val, batch_size, gen)
    t0 = time.perf_counter() - spent  # time already spent on this model counts
    limit = opt_cfg.time_limit_minutes * 60 if opt_cfg.time_limit_minutes else math.inf
    yield TrainingStarted(
        kind,
        str(device),
        len(train),
        len(val),
        batch_size,
        opt_cfg.batches_per_epoch,
        opt_cfg.epochs,
        (batch_size, data.channels, *train.input_hw),
        folder.path,
        notes,
    )

    def save_best(loss: float, epoch: int) -> None:
        if group.main:
            folder.save_best(model.state_dict())
            info.best_epoch, info.best_val_loss = epoch + 1, loss
            folder.write_info(info)

    cosine = opt_cfg.schedule == Schedule.COSINE
    total_steps = opt_cfg.epochs * opt_cfg.batches_per_epoch
    reason, epoch = "completed", start_epoch - 1
    order = group.share(torch.randperm(len(train), generator=shuffle))
    cursor = 0
    try:
        for epoch in range(start_epoch, opt_cfg.epochs):
            net.train()
            total, n = 0.0, 0
            parts = dict.fromkeys(unsup.parts, 0.0) if unsup is not None else {}
            for batch in range(opt_cfg.batches_per_epoch):
                if cursor + batch_size > len(order):
                    order = group.share(torch.randperm(len(train), generator=shuffle))
                    cursor = 0
                idx = order[cursor : cursor + batch_size]
                cursor += batch_size
                if cosine:
                    step = epoch * opt_cfg.batches_per_epoch + batch
                    progress = max(step / total_steps, (time.perf_counter() - t0) / limit)
                    for params in optimizer.param_groups:
                        params["lr"] = cosine_lr(opt_cfg.learning_rate, progress)
                x, y = train.batch(idx, gen)
                if unsup is not None:  # one forward pass for both
                    xu, zoom = unsup.batch(max(1, batch_size // 2), gen)
                    x = torch.cat([x, xu])
                x = to_layout(x.to(device, non_blocking=True), channels_last)
                with autocast(device, precision):
                    pred = net(x)
                pred = pred.float()
                loss = train.loss(pred[: len(y)], y.to(device, non_blocking=True))
                if unsup is not None:
                    loss = loss + unsup.loss(pred[len(y) :], zoom)
                    for name, value in unsup.last.items():
                        parts[name] = parts.get(name, 0.0) + value
                optimizer.zero_grad(set_to_none=True)
                if scaler is None:
                    loss.backward()
                    optimizer.step()
                else:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                value = float(loss.detach())
                total, n = total + value, n + 1
                yield BatchEnded(kind, epoch, batch, value, time.perf_counter() - t0)
                if group.agree(stop is not None and stop.requested):
                    reason = "stopped by user"
                    break
                if group.agree(time.perf_counter() - t0 > limit):
                    reason = "time limit"
                    break
            if reason != "completed" and best_epoch >= 0:
                break
            val_loss, metrics = _evaluate(model, val, val_batches, device, precision, channels_last)
            val_loss = group.mean(val_loss)
            metrics = {name: group.mean(value) for name, value in metrics.items()}
            if not cosine:
                scheduler.step(val_loss)
            is_best = val_loss < best_loss - opt_cfg.early_stopping_min_delta
            if is_best:
                best_loss, best_epoch, wait = val_loss, epoch, 0
                save_best(val_loss, epoch)
            else:
                wait += 1
            lr = optimizer.param_groups[0]["lr"]
            elapsed = time.perf_counter() - t0
            train_loss = group.mean(total / max(n, 1))
            log.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "learning_rate": lr,
                    "seconds": round(elapsed, 3),
                    **metrics,
                    **{f"{k}_loss": v / max(n, 1) for k, v in parts.items()},
                }
            )
            if group.main:
                folder.write_log(log)
                folder.save_last(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "epoch": epoch,
                        "best_val_loss": best_loss,
                        "best_epoch": best_epoch,
                        "wait": wait,
                        "generator": gen.get_state(),
                        "elapsed": time.perf_counter() - t0,
                    },
                )
            yield EpochEnded(kind, epoch, train_loss, val_loss, lr, is_best, wait, elapsed, metrics)
            if reason != "completed":
                break
            if wait >= opt_cfg.early_stopping_patience:
                reason = "early stopped"
                break
    except (RuntimeError, MemoryError) as exc:
        if _is_oom(exc):
            del model, optimizer
            raise _oom_error(kind, exc) from exc
        raise
    yield TrainingFinished(
        kind, reason, best_loss, best_epoch + 1, epoch + 1, time.perf_counter() - t0, folder.path
    )


def _fixed_batches(data: ModelData, batch_size: int, gen: torch.Generator) -> list[tuple]:
    """Validation batches built once, without augmentation."""
    idx = torch.arange(len(data))
    return [
        data.batch(idx[i : i + batch_size], gen, augment=False)
        for i in range(0, len(data), batch_size)
    ]


@torch.no_grad()
def _evaluate(
    model: ConfmapModel,
    data: ModelData,
    batches: list[tuple],
    device: torch.device,
    precision: str,
    channels_last: bool,
) -> tuple[float, dict[str, float]]:
    """The validation loss and the data's other figures (:meth:`ModelData.metrics`)."""
    model.eval()
    total, count = 0.0, 0
    sums: dict[str, float] = {}
    for x, y in batches:
        with autocast(device, precision):
            pred = model(to_layout(x.to(device), channels_last)).float()
        y = y.to(device)
        total += float(data.loss(pred, y)) * len(y)
        for name, value in data.metrics(pred, y).items():
            sums[name] = sums.get(name, 0.0) + value * len(y)
        count += len(y)
    model.train()
    count = max(count, 1)
    return total / count, {name: value / count for name, value in sums.items()}


def train_model(
    kind: ModelKind | str,
    project: Project | None,
    config: TrainingConfig,
    model_dir: str | os.PathLike,
    callback: Callable[[TrainingEvent], None] | None = None,
    **kwargs,
) -> TrainingFinished:
    """Run :func:`train_events` to the end, passing every event to ``callback``."""
    finished = None
    for event in train_events(kind, project, config, model_dir, **kwargs):
        if callback is not None:
            callback(event)
        if isinstance(event, TrainingFinished):
            finished = event
    assert finished is not None
    return finished


__all__ = ["train_events", "train_model"]

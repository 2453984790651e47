"""The one supervised training loop of the project.

``fit`` trains any classifier on a map-style dataset for a samples-seen budget with the recipe
of ``vlmbias.recipe``, checkpoints at the end of every epoch (atomically) and resumes from the
last checkpoint when rerun after a kill. Every epoch reseeds Python, NumPy and torch from
(seed, epoch), and the shuffling generator too, so a resumed run repeats exactly the steps an
uninterrupted one would have taken: same weights, same metrics (on CPU bit for bit; on CUDA
up to the GPU's own nondeterminism).

CUDA is used when present, with bf16 autocast and channels_last; otherwise fp32 on CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler
from tqdm import tqdm

from vlmbias import recipe as R

CHECKPOINT_VERSION = 1


def spec_hash(spec: Any) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} requested but CUDA is not available")
    return torch.device(requested)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _atomic_save(obj: Any, path: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    loss_curve: list = field(default_factory=list)   # [step, mean loss over the bin]
    epoch_loss: list = field(default_factory=list)   # mean loss of each epoch
    elapsed_s: float = 0.0
    resumed_from_epoch: int | None = None


@torch.no_grad()
def evaluate(model: nn.Module, ds: Dataset, num_classes: int, device: torch.device,
             batch_size: int, num_workers: int = 0, desc: str = "eval",
             progress: bool = True) -> dict:
    """Top-1 accuracy (%) and confusion matrix (rows: true, cols: predicted), one image at a
    time in the sense of the paper: eval-mode model, no test-time batch statistics."""
    model.eval()
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
        x = x.to(device, non_blocking=True)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device):
            pred = model(x).argmax(1).cpu()
        conf += torch.bincount(y * num_classes + pred, minlength=num_classes**2).view(
            num_classes, num_classes)
    total = int(conf.sum())
    per_class = (conf.diag().double() / conf.sum(1).clamp(min=1).double() * 100).tolist()
    return {"acc": float(conf.diag().sum()) / max(total, 1) * 100.0,
            "per_class_acc": per_class, "confusion": conf.tolist(), "n": total}


LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def fit(model: nn.Module, train_ds: Dataset, num_classes: int, recipe: dict, seed: int,
        checkpoint_path: str, run_hash: str, device: torch.device, num_workers: int = 0,
        progress: bool = True, log: Callable[[str], None] = print,
        loss_fn: LossFn | None = None) -> TrainState:
    """Train ``model`` in place for the recipe's budget; returns the final TrainState.

    By default the objective is classification with the recipe's Mixup/CutMix and (soft-target)
    cross-entropy. ``loss_fn(model, x, y) -> loss`` replaces it for other objectives (masked
    image modelling); Mixup is then not applied. Parameters with ``requires_grad=False`` are
    left out of the optimizer (frozen encoders of linear probes)."""
    budget = R.make_budget(recipe, len(train_ds))
    micro, accum = budget.micro_batch_size, budget.accum_steps
    micro_per_epoch = len(train_ds) // micro
    if budget.batch_size != int(recipe["batch_size"]):
        log(f"training set of {len(train_ds)} images < batch {recipe['batch_size']}: "
            f"batch {budget.batch_size} (micro {micro})")
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    opt = R.optimizer(recipe, model)
    sched = R.scheduler(recipe, opt, budget)
    mix, criterion = (None, None) if loss_fn is not None else R.mixup_and_loss(recipe, num_classes)
    if loss_fn is None:
        def loss_fn(m, x, target):
            return criterion(m(x), target)
    state = TrainState()

    if os.path.exists(checkpoint_path):
        ckpt = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        if ckpt.get("run_hash") == run_hash and ckpt.get("version") == CHECKPOINT_VERSION:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            state = TrainState(**ckpt["state"])
            state.resumed_from_epoch = state.epoch
            log(f"resuming from {checkpoint_path}: epoch {state.epoch}, step {state.step}/"
                f"{budget.total_steps}")
        else:
            log(f"ignoring {checkpoint_path}: written by a different configuration")

    bin_size = max(1, budget.total_steps // 200)
    bin_loss, bin_n = 0.0, 0
    t0 = time.time() - state.elapsed_s
    bar = tqdm(total=budget.total_steps, initial=state.step, desc="train", disable=not progress)
    while state.step < budget.total_steps:
        epoch_seed = seed * 100_003 + state.epoch
        seed_everything(epoch_seed)
        gen = torch.Generator().manual_seed(epoch_seed)
        loader = DataLoader(train_ds, batch_size=micro, sampler=RandomSampler(train_ds, generator=gen),
                            drop_last=True, num_workers=num_workers,
                            pin_memory=device.type == "cuda")
        model.train()
        ep_loss, ep_n, acc_loss = 0.0, 0, 0.0
        for i, (x, y) in enumerate(loader):
            if state.step >= budget.total_steps or i >= (micro_per_epoch // accum) * accum:
                break
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            target = y
            if mix is not None:
                x, target = mix(x, y)
            with _autocast(device):
                loss = loss_fn(model, x, target) / accum
            loss.backward()
            acc_loss += float(loss.detach())
            if (i + 1) % accum:
                continue
            sched.step_update(state.step)
            opt.step()
            opt.zero_grad(set_to_none=True)
            state.step += 1
            bar.update(1)
            ep_loss, ep_n = ep_loss + acc_loss, ep_n + 1
            bin_loss, bin_n = bin_loss + acc_loss, bin_n + 1
            if not np.isfinite(acc_loss):
                log(f"non-finite loss at step {state.step}")
            acc_loss = 0.0
            if bin_n == bin_size or state.step == budget.total_steps:
                state.loss_curve.append([state.step, bin_loss / bin_n])
                bin_loss, bin_n = 0.0, 0
        if bin_n:  # bins never straddle epochs, so a resumed run logs the same curve
            state.loss_curve.append([state.step, bin_loss / bin_n])
            bin_loss, bin_n = 0.0, 0
        state.epoch += 1
        state.epoch_loss.append(ep_loss / max(ep_n, 1))
        state.elapsed_s = time.time() - t0
        _atomic_save({"version": CHECKPOINT_VERSION, "run_hash": run_hash,
                      "model": model.state_dict(), "optimizer": opt.state_dict(),
                      "scheduler": sched.state_dict(), "state": state.__dict__}, checkpoint_path)
        log(f"epoch {state.epoch}: step {state.step}/{budget.total_steps}, "
            f"loss {state.epoch_loss[-1]:.4f}, {state.elapsed_s:.1f}s")
    bar.close()
    state.elapsed_s = time.time() - t0
    return state

"""The one supervised training loop of the project.

``fit`` trains any model on a map-style dataset for a samples-seen budget with the recipe
of ``vlmbias.train.recipe``, checkpoints at the end of every epoch (atomically) and resumes from the
last checkpoint when rerun after a kill. Every epoch reseeds Python, NumPy and torch from
(seed, epoch), and the shuffling generator too, so a resumed run repeats exactly the steps an
uninterrupted one would have taken: same weights, same metrics (on CPU bit for bit; on CUDA
up to the GPU's own nondeterminism).

CUDA is used when present, with bf16 autocast; otherwise fp32 on CPU. Batches and conv weights
are channels_last on both (``vlmbias.core.device``).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler, WeightedRandomSampler
from tqdm import tqdm

from vlmbias.core.device import autocast, channels_last
from vlmbias.core.io import atomic_path
from vlmbias.train import recipe as R
from vlmbias.train.objectives import Classification, Objective

CHECKPOINT_VERSION = 1


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class _Indexed(Dataset):
    """(x, y, index) items, so an objective knows which samples a batch holds."""

    def __init__(self, ds: Dataset):
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        x, y = self.ds[i]
        return x, y, i


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    loss_curve: list = field(default_factory=list)   # [step, mean loss over the bin]
    epoch_loss: list = field(default_factory=list)   # mean loss of each epoch
    elapsed_s: float = 0.0
    resumed_from_epoch: int | None = None
    history: list = field(default_factory=list)      # what ``on_epoch_end`` returned, per epoch


@torch.no_grad()
def predict(model: nn.Module, ds: Dataset, device: torch.device, batch_size: int, num_workers: int = 0,
            desc: str = "predict", progress: bool = True,
            logits: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(predictions [H, N], labels [N]) of every image in order, one image at a time in the
    sense of the paper: eval-mode model, no test-time batch statistics. A model's output is
    [B, K] (one head, H = 1) or [H, B, K] (several, e.g. a probe sweep). ``logits``: the
    outputs themselves, fp32 ([H, N, K]), instead of their argmax."""
    model.eval()
    preds, labels = [], []
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
        x = channels_last(x.to(device, non_blocking=True))
        with autocast(device):
            out = model(x)
        out = out if out.ndim == 3 else out[None]
        preds.append(out.float().cpu() if logits else out.argmax(-1).cpu())
        labels.append(y)
    if not preds:
        raise ValueError(f"{desc}: nothing to predict (empty dataset)")
    return torch.cat(preds, dim=1), torch.cat(labels)


def evaluate_heads(model: nn.Module, ds: Dataset, num_classes: int, device: torch.device,
                   batch_size: int, num_workers: int = 0, desc: str = "eval",
                   progress: bool = True) -> list[dict]:
    """Top-1 accuracy (%) and confusion matrix (rows: true, cols: predicted) of every head
    (:func:`predict`)."""
    preds, labels = predict(model, ds, device, batch_size, num_workers, desc, progress)
    results = []
    for p in preds:
        c = torch.bincount(labels * num_classes + p, minlength=num_classes**2).view(num_classes, num_classes)
        total = int(c.sum())
        per_class = (c.diag().double() / c.sum(1).clamp(min=1).double() * 100).tolist()
        results.append({"acc": float(c.diag().sum()) / max(total, 1) * 100.0,
                        "per_class_acc": per_class, "confusion": c.tolist(), "n": total})
    return results


def evaluate(model: nn.Module, ds: Dataset, num_classes: int, device: torch.device,
             batch_size: int, num_workers: int = 0, desc: str = "eval",
             progress: bool = True) -> dict:
    """:func:`evaluate_heads` of a model with one head."""
    (result,) = evaluate_heads(model, ds, num_classes, device, batch_size, num_workers, desc, progress)
    return result


class _Joint(nn.Module):
    """The model and an objective's own modules, optimised and checkpointed together."""

    def __init__(self, model: nn.Module, extra: list[nn.Module]):
        super().__init__()
        self.model = model
        self.extra = nn.ModuleList(extra)


def fit(model: nn.Module, train_ds: Dataset, num_classes: int, recipe: dict, seed: int,
        checkpoint_path: str, run_hash: str, device: torch.device, num_workers: int = 0,
        progress: bool = True, log: Callable[[str], None] = print,
        objective: Objective | None = None,
        on_epoch_end: Callable[[int, nn.Module], dict] | None = None,
        epoch_samples: int | None = None) -> TrainState:
    """Train ``model`` in place for the recipe's budget; returns the final TrainState.

    ``objective`` (``vlmbias.train.objectives``) says what is minimised and how samples are
    weighed; by default, classification with the recipe's Mixup/CutMix and (soft-target)
    cross-entropy. Parameters with ``requires_grad=False`` are left out of the optimizer
    (frozen encoders of linear probes). ``on_epoch_end(epoch, model)`` runs after every epoch
    (1-based), before the checkpoint; what it returns is kept in ``state.history`` (per-epoch
    evaluation and model selection, resumed with the run). ``epoch_samples`` draws that many
    samples per epoch (without replacement; with replacement under sample weights) instead of
    the whole training set (LLE draws |original| samples from original + augmented copies)."""
    epoch_len = int(epoch_samples) if epoch_samples else len(train_ds)
    budget = R.make_budget(recipe, epoch_len)
    micro, accum = budget.micro_batch_size, budget.accum_steps
    micro_per_epoch = epoch_len // micro
    if budget.batch_size != int(recipe["batch_size"]):
        log(f"training set of {len(train_ds)} images < batch {recipe['batch_size']}: "
            f"batch {budget.batch_size} (micro {micro})")
    objective = objective if objective is not None else Classification(recipe, num_classes)
    extra = objective.modules()
    trainable = _Joint(model, extra) if extra else model
    channels_last(trainable.to(device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    opt = R.optimizer(recipe, trainable)
    sched = R.scheduler(recipe, opt, budget)
    state = TrainState()

    if os.path.exists(checkpoint_path):
        ckpt = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        if ckpt.get("run_hash") == run_hash and ckpt.get("version") == CHECKPOINT_VERSION:
            trainable.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            objective.load_state_dict(ckpt.get("objective") or {})
            state = TrainState(**ckpt["state"])
            state.resumed_from_epoch = state.epoch
            log(f"resuming from {checkpoint_path}: epoch {state.epoch}, step {state.step}/"
                f"{budget.total_steps}")
        else:
            log(f"ignoring {checkpoint_path}: written by a different configuration")

    indexed = _Indexed(train_ds)
    bin_size = max(1, budget.total_steps // 200)
    bin_loss, bin_n = 0.0, 0
    t0 = time.time() - state.elapsed_s
    bar = tqdm(total=budget.total_steps, initial=state.step, desc="train", disable=not progress)
    while state.step < budget.total_steps:
        epoch_seed = seed * 100_003 + state.epoch
        seed_everything(epoch_seed)
        gen = torch.Generator().manual_seed(epoch_seed)
        weights = objective.sample_weights(state.epoch)
        if weights is None:
            sampler = RandomSampler(indexed, generator=gen, num_samples=epoch_len)
        else:
            if len(weights) != len(train_ds):
                raise ValueError(f"{type(objective).__name__}.sample_weights: {len(weights)} weights "
                                 f"for {len(train_ds)} training samples")
            sampler = WeightedRandomSampler(weights, epoch_len, replacement=True, generator=gen)
        loader = DataLoader(indexed, batch_size=micro, sampler=sampler, drop_last=True,
                            num_workers=num_workers, pin_memory=device.type == "cuda")
        trainable.train()
        ep_loss, ep_n, acc_loss = 0.0, 0, 0.0
        for i, (x, y, idx) in enumerate(loader):
            if state.step >= budget.total_steps or i >= (micro_per_epoch // accum) * accum:
                break
            x, y = channels_last(x.to(device, non_blocking=True)), y.to(device, non_blocking=True)
            x, target = objective.batch(x, y)
            with autocast(device):
                loss = objective.loss(model, x, target, idx) / accum
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
        if on_epoch_end is not None:
            state.history.append(on_epoch_end(state.epoch, model))
            trainable.train()
        state.elapsed_s = time.time() - t0
        with atomic_path(checkpoint_path) as tmp:
            torch.save({"version": CHECKPOINT_VERSION, "run_hash": run_hash,
                        "model": trainable.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "objective": objective.state_dict(),
                        "state": state.__dict__}, tmp)
        log(f"epoch {state.epoch}: step {state.step}/{budget.total_steps}, "
            f"loss {state.epoch_loss[-1]:.4f}, {state.elapsed_s:.1f}s")
    bar.close()
    state.elapsed_s = time.time() - t0
    return state


def finish_run(checkpoint_path: str) -> None:
    """A run is complete: drop its resume checkpoint, so a later forced rerun trains from
    scratch instead of "resuming" at the end."""
    if os.path.exists(checkpoint_path):
        os.remove(checkpoint_path)

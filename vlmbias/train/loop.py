"""The one supervised training loop of the project.

``fit`` trains any model on a map-style dataset for a samples-seen budget with the recipe
of ``vlmbias.train.recipe``, checkpoints at the end of an epoch (atomically) once
:func:`checkpoint_every_s` seconds have passed since the last checkpoint, and resumes from the
last checkpoint when rerun after a kill. Every epoch reseeds Python, NumPy and torch from
(seed, epoch), and the shuffling generator too, so a resumed run repeats exactly the steps an
uninterrupted one would have taken: same weights, same metrics (on CPU bit for bit; on CUDA
up to the GPU's own nondeterminism).

Input pipeline: one DataLoader for the whole run; with ``num_workers > 0`` its workers persist
across epochs (``prefetch_factor`` :data:`PREFETCH_FACTOR` batches each) and each worker reseeds
Python, NumPy and torch from (epoch seed, rank, worker id) on the first sample of every epoch, so
augmentations stay a function of the epoch (a resumed run draws the same ones) whatever the
workers did before. The loss stays on the device: summed in float64 there (the same float64 sums
as reading every micro-step back), read once per loss-curve bin and per epoch, where the
non-finite check is; no host sync per step on CUDA.

Several processes (``vlmbias.train.distributed``): under an initialised torch.distributed,
the model is wrapped in DistributedDataParallel and each rank trains on its 1/N slice of every
global micro-batch of the one seeded order (same global batch, steps and schedule as one
process; gradients all-reduced once per optimizer step, ``no_sync`` on the other micro-steps).
Rank 0 alone runs ``on_epoch_end``, writes the checkpoint and logs; every rank resumes from it.
What differs from one process: float reduction order (the gradient is a mean of per-rank
means), BatchNorm statistics (per rank, over the local slice), and every random draw made in
the training process (Mixup/CutMix pair sample i with sample B-1-i of the *local* batch;
dropout masks; augmentations drawn in the main process when ``num_workers == 0``); objectives
keeping per-sample state by dataset index are refused (``Objective.distributed``).

CUDA is used when present, with bf16 autocast; otherwise fp32 on CPU. Batches and conv weights
are channels_last on both (``vlmbias.core.device``).
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, WeightedRandomSampler, get_worker_info
from tqdm import tqdm

from vlmbias.core.device import autocast, channels_last
from vlmbias.core.io import atomic_path
from vlmbias.train import distributed as D
from vlmbias.train import recipe as R
from vlmbias.train.objectives import Classification, Objective

CHECKPOINT_VERSION = 1
# Micro-batches in flight per loader worker. Each costs shared memory (paper.yaml: 256 x 3 x 224^2
# fp32 = 154 MB, x 12 workers x 2 = 3.7 GB a GPU) and buys only smoothing: a worker makes one
# micro-batch in ~1.5 s (256 images at ~175/s per core, `python -m vlmbias.bench loader`) while
# the GPU eats one in ~0.1 s, so the number of workers sets the pace, not the depth of the queue.
PREFETCH_FACTOR = 2
# A checkpoint (model, optimizer, scheduler) takes ~20 ms for a toy model. The toy world's small
# cells have epochs of one step (60 images at batch 64): a checkpoint per epoch was a third of
# such a run's time. At most one per interval; an epoch of the paper's runs outlasts it.
CHECKPOINT_EVERY_S = 30.0
CHECKPOINT_EVERY_ENV = "VLMBIAS_CHECKPOINT_EVERY_S"


def checkpoint_every_s() -> float:
    """Seconds between checkpoints: :data:`CHECKPOINT_EVERY_S`, or the environment's
    ``VLMBIAS_CHECKPOINT_EVERY_S`` (0: at every epoch's end)."""
    raw = os.environ.get(CHECKPOINT_EVERY_ENV)
    if raw is None:
        return CHECKPOINT_EVERY_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{CHECKPOINT_EVERY_ENV}={raw!r}: not a number of seconds") from None
    if not value >= 0:
        raise ValueError(f"{CHECKPOINT_EVERY_ENV}={raw!r}: must be >= 0")
    return value


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def worker_seed(epoch_seed: int, rank: int, worker: int) -> int:
    """The seed of one loader worker in one epoch (of one rank)."""
    return int(np.random.SeedSequence([epoch_seed, rank, worker]).generate_state(1)[0])


class _Indexed(Dataset):
    """(x, y, index) items, so an objective knows which samples a batch holds. Keys are
    (epoch seed, index) pairs from :class:`_EpochOrder`: a loader worker reseeds itself
    (:func:`worker_seed`) on the first key of a new epoch; the main process (``num_workers=0``)
    is reseeded by the loop itself."""

    def __init__(self, ds: Dataset, rank: int = 0):
        self.ds = ds
        self.rank = rank
        self._epoch_seed = None

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, key: tuple[int, int]):
        epoch_seed, i = key
        info = get_worker_info()
        if info is not None and epoch_seed != self._epoch_seed:
            seed_everything(worker_seed(epoch_seed, self.rank, info.id))
            self._epoch_seed = epoch_seed
        x, y = self.ds[i]
        return x, y, i


class _EpochOrder(Sampler):
    """The keys this rank loads in the current epoch (:meth:`set_epoch`): the epoch's seeded
    order of dataset indices cut into global micro-batches of ``micro``, of each this rank's
    ``micro // world`` slice, as (epoch seed, index). One process: the order itself, whole
    micro-batches only."""

    def __init__(self, micro: int, rank: int, world: int):
        if micro % world:
            raise ValueError(f"micro-batch {micro} is not divisible by the {world} processes of the run: "
                             f"set train.micro_batch_size (or batch_size) to a multiple of {world}")
        self.micro, self.rank, self.local = micro, rank, micro // world
        self.order: Sampler | None = None
        self.epoch_seed = 0

    def set_epoch(self, order: Sampler, epoch_seed: int) -> None:
        self.order, self.epoch_seed = order, epoch_seed

    def __len__(self) -> int:
        return len(self.order) // self.micro * self.local

    def __iter__(self):
        chunk, lo = [], self.rank * self.local
        for i in self.order:
            chunk.append(int(i))
            if len(chunk) == self.micro:
                for j in chunk[lo:lo + self.local]:
                    yield self.epoch_seed, j
                chunk = []


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
def map_batches(model: nn.Module, ds: Dataset, device: torch.device, batch_size: int,
                outputs: Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, ...]], num_workers: int = 0,
                desc: str = "predict", progress: bool = True) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """(what ``outputs(model, x)`` gives per batch, each part concatenated over the batches along
    dim 0; labels [N]) of every image of ``ds`` in order: eval-mode model (no test-time batch
    statistics), batches in channels_last on ``device``, ``outputs`` called under
    :func:`autocast`, its parts moved to the CPU."""
    model.eval()
    parts, labels = [], []
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
        x = channels_last(x.to(device, non_blocking=True))
        with autocast(device):
            parts.append(tuple(t.cpu() for t in outputs(model, x)))
        labels.append(y)
    if not parts:
        raise ValueError(f"{desc}: nothing to predict (empty dataset)")
    return tuple(torch.cat(p) for p in zip(*parts)), torch.cat(labels)


def predict(model: nn.Module, ds: Dataset, device: torch.device, batch_size: int, num_workers: int = 0,
            desc: str = "predict", progress: bool = True,
            logits: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(predictions [H, N], labels [N]) of every image in order (:func:`map_batches`). A model's
    output is [B, K] (one head, H = 1) or [H, B, K] (several, e.g. a probe sweep). ``logits``:
    the outputs themselves, fp32 ([H, N, K]), instead of their argmax."""
    def heads_first(m: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor]:
        out = m(x)
        out = out if out.ndim == 3 else out[None]
        return ((out.float() if logits else out.argmax(-1)).movedim(0, 1),)   # batch first

    (preds,), labels = map_batches(model, ds, device, batch_size, heads_first, num_workers, desc, progress)
    return preds.movedim(1, 0).contiguous(), labels


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


def forward_backward(objective, forward: nn.Module, x: torch.Tensor, target, idx: torch.Tensor,
                     device: torch.device, accum: int = 1) -> torch.Tensor:
    """One micro-step's forward (under :func:`autocast`) and backward; its loss, divided by the
    ``accum`` micro-steps of an optimizer step, is returned (on the device: no host sync)."""
    with autocast(device):
        loss = objective.loss(forward, x, target, idx) / accum
    loss.backward()
    return loss


def optimizer_step(sched, opt: torch.optim.Optimizer, step: int) -> None:
    """The optimizer step ``step`` (0-based): the scheduler's lr for it, the update, grads cleared."""
    sched.step_update(step)
    opt.step()
    opt.zero_grad(set_to_none=True)


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
    rank, world = D.rank_world()
    main = rank == 0
    if device.type == "cuda" and device.index is None:  # the process's own GPU (its local rank's)
        device = torch.device("cuda", torch.cuda.current_device())
    log = log if main else (lambda *_: None)
    epoch_len = int(epoch_samples) if epoch_samples else len(train_ds)
    budget = R.make_budget(recipe, epoch_len)
    micro, accum = budget.micro_batch_size, budget.accum_steps
    micro_per_epoch = epoch_len // micro
    if budget.batch_size != int(recipe["batch_size"]):
        log(f"training set of {len(train_ds)} images < batch {recipe['batch_size']}: "
            f"batch {budget.batch_size} (micro {micro})")
    objective = objective if objective is not None else Classification(recipe, num_classes)
    if world > 1 and not objective.distributed:
        raise ValueError(f"{type(objective).__name__} cannot train on {world} processes: it keeps state "
                         f"per sample or per batch that the ranks would not share; run it on one GPU")
    order = _EpochOrder(micro, rank, world)
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
    forward = model
    if world > 1:  # every rank starts from the same weights: seeded alike, or the same checkpoint
        if extra:
            raise ValueError(f"{type(objective).__name__} trains modules besides the model: "
                             f"not supported on {world} processes")
        forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    indexed = _Indexed(train_ds, rank)
    workers = int(num_workers)
    loader = DataLoader(indexed, batch_size=micro // world, sampler=order, drop_last=True,
                        num_workers=workers, pin_memory=device.type == "cuda",
                        persistent_workers=workers > 0, prefetch_factor=PREFETCH_FACTOR if workers else None,
                        # workers seed themselves per epoch (_Indexed); with workers, the loader's
                        # own base seed must not draw from the global RNG (once, not per epoch)
                        generator=torch.Generator().manual_seed(seed) if workers else None)
    bin_size = max(1, budget.total_steps // 200)
    zero = torch.zeros((), dtype=torch.float64, device=device)
    bin_loss, bin_n, bin_first = zero.clone(), 0, state.step + 1
    t0 = time.time() - state.elapsed_s
    bar = tqdm(total=budget.total_steps, initial=state.step, desc="train", disable=not (progress and main))
    every_s, last_saved = checkpoint_every_s(), time.time()

    def read_back(total: torch.Tensor) -> float:
        """The (rank-averaged) float64 sum: one host sync, one all-reduce under DDP."""
        if world > 1:
            total = total.clone()
            torch.distributed.all_reduce(total)
            total /= world
        return float(total)

    def close_bin() -> None:
        nonlocal bin_loss, bin_n, bin_first
        mean = read_back(bin_loss) / bin_n
        if not np.isfinite(mean):
            log(f"non-finite loss in steps {bin_first}-{state.step}")
        state.loss_curve.append([state.step, mean])
        bin_loss, bin_n, bin_first = zero.clone(), 0, state.step + 1

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
        order.set_epoch(sampler, epoch_seed)
        trainable.train()
        ep_loss, ep_n, acc_loss = zero.clone(), 0, zero.clone()
        for i, (x, y, idx) in enumerate(loader):
            if state.step >= budget.total_steps or i >= (micro_per_epoch // accum) * accum:
                break
            x, y = channels_last(x.to(device, non_blocking=True)), y.to(device, non_blocking=True)
            x, target = objective.batch(x, y)
            last = not (i + 1) % accum
            with contextlib.nullcontext() if world == 1 or last else forward.no_sync():
                loss = forward_backward(objective, forward, x, target, idx, device, accum)
            acc_loss = acc_loss + loss.detach().double()
            if not last:
                continue
            optimizer_step(sched, opt, state.step)
            state.step += 1
            bar.update(1)
            ep_loss, ep_n = ep_loss + acc_loss, ep_n + 1
            bin_loss, bin_n = bin_loss + acc_loss, bin_n + 1
            acc_loss = zero.clone()
            if bin_n == bin_size or state.step == budget.total_steps:
                close_bin()
        if bin_n:  # bins never straddle epochs, so a resumed run logs the same curve
            close_bin()
        state.epoch += 1
        state.epoch_loss.append(read_back(ep_loss) / max(ep_n, 1))
        if on_epoch_end is not None and main:
            state.history.append(on_epoch_end(state.epoch, model))
            trainable.train()
        now = time.time()
        state.elapsed_s = now - t0
        if main and now - last_saved >= every_s:
            last_saved = now
            with atomic_path(checkpoint_path) as tmp:
                torch.save({"version": CHECKPOINT_VERSION, "run_hash": run_hash,
                            "model": trainable.state_dict(), "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(), "objective": objective.state_dict(),
                            "state": state.__dict__}, tmp)
        D.barrier()
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

"""Training throughput and model FLOPs utilisation (MFU), for the GPU check (``vlmbias.gpucheck``).

Three measurements of one model on synthetic batches, each warmed up first (cuDNN autotuning,
allocator) and timed over whole steps ending in a device sync:

* :func:`time_step` -- the project's training step without its data path: the batch already on
  the device, then exactly the parts ``vlmbias.train.loop.fit`` composes per optimizer step: the
  recipe's objective (``Classification``: timm Mixup/CutMix + soft-target CE), ``autocast`` (bf16
  on CUDA) and ``channels_last`` from ``vlmbias.core.device``, the recipe's optimizer and
  scheduler (``vlmbias.train.recipe``), ``zero_grad(set_to_none=True)``.
* :func:`time_fit` -- ``fit`` itself, unchanged, over an in-memory synthetic dataset (its
  DataLoader, collation, pinned host-to-device copies, whatever it does per step): ``steps`` steps
  after ``warmup`` ones, clocked through the objective seam (the recipe's objective, which also
  reads the clock after a device sync at the first and last timed step), so the set-up and the
  end-of-epoch checkpoint are left out.
* :func:`time_timm_reference` -- what timm's ``benchmark.py --bench train`` measures, done the way
  it does it (that script ships in timm's GitHub repository, not in the wheel): ``create_model``,
  the model and a fixed random batch channels_last on the device, per step ``zero_grad``, forward
  and cross-entropy on random targets under autocast, backward, ``optimizer.step`` from timm's
  ``create_optimizer_v2`` (lr 1e-4), sync; 10 warm-up and 40 timed steps by default.
  :func:`run_timm_script` runs the script itself when a checkout is at hand
  (:func:`timm_command` is its command line).

MFU = training FLOPs per image (3 x the forward's, counted by ``torch.utils.flop_counter``:
matmuls and convolutions, the usual convention) x images/s / the device's peak dense bf16
FLOP/s (:data:`PEAK_BF16_FLOPS`, by device name; unknown devices and CPUs get none).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

import timm
import torch
from timm.optim import create_optimizer_v2
from torch import nn
from torch.utils.data import Dataset
from torch.utils.flop_counter import FlopCounterMode

from vlmbias.core.device import autocast, channels_last
from vlmbias.train import recipe as R
from vlmbias.train.loop import fit, forward_backward, optimizer_step
from vlmbias.train.objectives import Classification

# Peak dense (no sparsity) bf16 tensor-core FLOP/s from the vendors' data sheets, matched in this
# order against torch.cuda.get_device_name() (case-insensitive); the first pattern that matches wins.
PEAK_BF16_FLOPS: list[tuple[str, float]] = [
    (r"H200", 989e12),
    (r"H100.*PCIe", 756e12),
    (r"H100.*NVL", 835e12),
    (r"H100", 989e12),           # SXM ("NVIDIA H100 80GB HBM3")
    (r"GH200", 989e12),
    (r"A100", 312e12),
    (r"A800", 312e12),
    (r"L40S", 362e12),
    (r"L40\b", 181e12),
    (r"\bL4\b", 121e12),
    (r"A6000 Ada|RTX 6000 Ada", 364e12),
    (r"A6000", 155e12),
    (r"\bA10\b", 125e12),
    (r"RTX 4090", 165e12),       # fp32 accumulate
    (r"RTX 3090", 71e12),        # fp32 accumulate
]


def peak_bf16_flops(device_name: str) -> float | None:
    """The peak dense bf16 FLOP/s of a device by its name; None when not in the table."""
    for pattern, flops in PEAK_BF16_FLOPS:
        if re.search(pattern, device_name, flags=re.I):
            return flops
    return None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_flops(model: nn.Module, input_size: int, device: torch.device) -> int:
    """FLOPs of one image's forward pass (matmuls and convolutions; 2 per multiply-add)."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, 3, input_size, input_size, device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def mfu(train_flops_per_image: float, images_per_s: float, peak: float | None) -> float | None:
    return None if not peak else train_flops_per_image * images_per_s / peak


def bench_recipe(recipe: dict, batch_size: int, steps: int, input_size: int) -> dict:
    """A copy of ``recipe`` at one micro-batch per optimizer step of ``batch_size``, for ``steps``
    steps without warm-up of the learning rate (the schedule's shape does not change the cost)."""
    out = dict(recipe)
    out.update(batch_size=batch_size, micro_batch_size=batch_size, samples_seen=steps * batch_size,
               warmup_samples=0, input_size=input_size)
    return out


def _batch(batch_size: int, input_size: int, num_classes: int, device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 3, input_size, input_size, generator=g)
    y = torch.randint(0, num_classes, (batch_size,), generator=g)
    return channels_last(x.to(device)), y.to(device)


def time_step(model: nn.Module, recipe: dict, num_classes: int, device: torch.device, batch_size: int,
              input_size: int, warmup: int, steps: int) -> dict[str, float]:
    """The project's optimizer step (see the module doc) on one fixed batch already on ``device``."""
    recipe = bench_recipe(recipe, batch_size, warmup + steps, input_size)
    budget = R.make_budget(recipe, batch_size)
    channels_last(model.to(device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    objective = Classification(recipe, num_classes)
    opt = R.optimizer(recipe, model)
    sched = R.scheduler(recipe, opt, budget)
    x0, y0 = _batch(batch_size, input_size, num_classes, device)
    idx = torch.arange(batch_size)
    model.train()

    def one(step: int) -> torch.Tensor:
        x, target = objective.batch(x0.clone(), y0)  # Mixup/CutMix mix in place, as on a loader's fresh batch
        loss = forward_backward(objective, model, x, target, idx, device)
        optimizer_step(sched, opt, step)
        return loss

    for i in range(warmup):
        one(i)
    sync(device)
    t0 = time.perf_counter()
    for i in range(steps):
        loss = one(warmup + i)
    sync(device)
    wall = time.perf_counter() - t0
    if not torch.isfinite(loss.detach()).item():
        raise RuntimeError("non-finite loss in the benchmarked training step")
    return {"img_s": steps * batch_size / wall, "ms_step": 1000 * wall / steps}


class SyntheticImages(Dataset):
    """``length`` (image, label) pairs cycled from a fixed pool of ``pool`` random images (so
    ``__getitem__`` costs what reading an image from memory costs, not a random draw)."""

    def __init__(self, length: int, input_size: int, num_classes: int, pool: int = 32, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randn(pool, 3, input_size, input_size, generator=g)
        self.length, self.num_classes = int(length), int(num_classes)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        return self.images[i % len(self.images)], i % self.num_classes


class _Stopwatch(Classification):
    """The recipe's classification objective, unchanged, that also reads the clock (after a device
    sync) when ``fit`` hands it the micro-batches numbered in ``at``: ``fit`` calls ``batch`` once
    per micro-step, after its DataLoader delivered the batch and the previous step was issued."""

    def __init__(self, recipe: dict, num_classes: int, device: torch.device, at: tuple[int, ...]):
        super().__init__(recipe, num_classes)
        self.device, self.at, self.calls, self.times = device, at, 0, []

    def batch(self, x, y):
        if self.calls in self.at:
            sync(self.device)
            self.times.append(time.perf_counter())
        self.calls += 1
        return super().batch(x, y)


def time_fit(model: nn.Module, recipe: dict, num_classes: int, device: torch.device, batch_size: int,
             input_size: int, warmup: int, steps: int, num_workers: int) -> dict[str, float]:
    """``fit`` as jobs run it (see the module doc), for ``warmup + steps + 1`` steps of one epoch over
    :class:`SyntheticImages`; timed from the start of step ``warmup`` to the start of step
    ``warmup + steps`` through the objective seam (:class:`_Stopwatch`), so the set-up before the
    first step and the checkpoint after the last are outside the ``steps`` steps timed."""
    n = warmup + steps + 1
    r = bench_recipe(recipe, batch_size, n, input_size)
    objective = _Stopwatch(r, num_classes, device, at=(warmup, warmup + steps))
    with tempfile.TemporaryDirectory(prefix="vlmbias-fit-bench-") as tmp:
        fit(model, SyntheticImages(n * batch_size, input_size, num_classes), num_classes, r, seed=0,
            checkpoint_path=os.path.join(tmp, "checkpoint.pt"), run_hash="bench", device=device,
            num_workers=num_workers, progress=False, log=lambda _msg: None, objective=objective)
    t0, t1 = objective.times
    return {"img_s": steps * batch_size / (t1 - t0), "ms_step": 1000 * (t1 - t0) / steps,
            "num_workers": num_workers}


def time_timm_reference(arch: str, device: torch.device, batch_size: int, input_size: int, warmup: int,
                        steps: int, opt: str = "adamw", kwargs: dict | None = None) -> dict[str, Any]:
    """timm ``benchmark.py --bench train --amp --amp-dtype bfloat16 --channels-last``'s measurement,
    done its way (see the module doc), on ``timm.create_model(arch, **kwargs)``."""
    torch.manual_seed(0)
    model = timm.create_model(arch, **(kwargs or {}))
    model.to(device=device, memory_format=torch.channels_last).train()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    loss_fn = nn.CrossEntropyLoss().to(device)
    optimizer = create_optimizer_v2(model, opt=opt, lr=1e-4)
    x = torch.randn(batch_size, 3, input_size, input_size, device=device).contiguous(
        memory_format=torch.channels_last)

    def one() -> None:
        optimizer.zero_grad()
        with autocast(device):
            out = model(x)
            target = torch.empty(out.shape[0], device=device, dtype=torch.long).random_(model.num_classes)
            loss_fn(out, target).backward()
        optimizer.step()
        sync(device)  # timm's step ends in a sync

    for _ in range(warmup):
        one()
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    wall = time.perf_counter() - t0
    flops = forward_flops(model, input_size, device)
    return {"img_s": steps * batch_size / wall, "ms_step": 1000 * wall / steps, "forward_flops": flops,
            "num_classes": model.num_classes, "optimizer": opt}


def timm_command(arch: str, batch_size: int, input_size: int, warmup: int, steps: int, opt: str = "adamw",
                 script: str = "benchmark.py") -> list[str]:
    """The command line of timm's own script for the same measurement (run from a timm checkout:
    ``git clone https://github.com/huggingface/pytorch-image-models``)."""
    return ["python", script, "--model", arch, "--bench", "train", "--amp", "--amp-dtype", "bfloat16",
            "--channels-last", "-b", str(batch_size), "--img-size", str(input_size), "--opt", opt,
            "--num-warm-iter", str(warmup), "--num-bench-iter", str(steps)]


def parse_timm_result(stdout: str) -> dict:
    """The JSON timm's benchmark.py prints after its ``--result`` line."""
    if "--result" not in stdout:
        raise ValueError(f"no '--result' line in timm benchmark.py's output: {stdout[-2000:]!r}")
    return json.loads(stdout.split("--result", 1)[1])


def run_timm_script(script: str, arch: str, batch_size: int, input_size: int, warmup: int, steps: int,
                    opt: str = "adamw", timeout: float = 900) -> dict:
    """Run timm's own ``benchmark.py`` (path to a checkout's file) and return its result JSON."""
    if not os.path.isfile(script):
        raise FileNotFoundError(f"timm benchmark script {script} does not exist")
    cmd = [sys.executable, *timm_command(arch, batch_size, input_size, warmup, steps, opt, script)[1:]]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       cwd=os.path.dirname(os.path.abspath(script)))
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return parse_timm_result(p.stdout)

"""The training recipe, turned from config into timm objects.

Defaults follow Liu & He, Table 9 and the ConvNeXt code their README runs (research notes §3):
AdamW (betas 0.9/0.95, eps 1e-8), lr 1e-3 at an effective batch of 4096, weight decay 0.3 on
every parameter but biases and 1-D tensors, per-iteration cosine to 1e-6 after a linear warmup
from 0, RandomResizedCrop (scale 0.08-1, ratio 3/4-4/3, bicubic) + horizontal flip,
RandAugment ``rand-m9-mstd0.5-inc1`` (2 ops, magnitude 9, std 0.5), no colour jitter (inactive
in timm once RandAugment is on), no random erasing, Mixup 0.8 / CutMix 1.0 (prob 1, switch 0.5,
mode "batch") with label smoothing 0.1 inside Mixup, evaluation by resize to input/0.875 and
centre crop. The budget is counted in samples seen, not epochs (§3.2: the paper trains every
setting for the samples of a 300-epoch ImageNet-1K run, 93,600 x 4096).

Everything is built with timm's own factories: ``create_transform``, ``rand_augment_transform``,
``Mixup``, ``SoftTargetCrossEntropy``, ``create_optimizer_v2`` and ``create_scheduler_v2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from timm.data import Mixup, create_transform, rand_augment_transform
from timm.data.transforms import str_to_interp_mode
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from torch import nn
from torchvision import transforms as T

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Keys of the `augment` block of a recipe, with the paper's values.
DEFAULT_AUGMENT: dict[str, Any] = {
    "random_crop": True,
    "scale": [0.08, 1.0],
    "ratio": [0.75, 1.3333333],
    "hflip": 0.5,
    "auto_augment": "rand-m9-mstd0.5-inc1",
    "color_jitter": 0.0,
    "mixup": 0.8,
    "cutmix": 1.0,
    "mixup_prob": 1.0,
    "switch_prob": 0.5,
    "mixup_mode": "batch",
}


class RecipeError(ValueError):
    pass


@dataclass(frozen=True)
class Budget:
    """Steps of the run, derived from the samples-seen budget."""

    batch_size: int          # effective batch per optimizer step
    micro_batch_size: int    # batch per forward pass (gradient accumulation when smaller)
    total_steps: int
    warmup_steps: int

    @property
    def accum_steps(self) -> int:
        return self.batch_size // self.micro_batch_size

    @property
    def samples_seen(self) -> int:
        return self.total_steps * self.batch_size


def make_budget(recipe: dict, n_train: int) -> Budget:
    """Steps from the samples-seen budget. A training set smaller than one batch is one batch
    (as the paper's distributed sampler makes it for 3 x 100 pseudo-dataset images at batch
    4096): the batch is clamped to the largest multiple of the micro batch that fits, or to the
    whole set when it is smaller than a micro batch."""
    batch = int(recipe["batch_size"])
    micro = int(recipe.get("micro_batch_size") or batch)
    if batch % micro:
        raise RecipeError(f"batch_size {batch} is not a multiple of micro_batch_size {micro}")
    if n_train < 1:
        raise RecipeError("empty training set")
    if micro > n_train:
        micro = batch = n_train
    elif batch > n_train:
        batch = (n_train // micro) * micro
    total = max(1, math.ceil(int(recipe["samples_seen"]) / batch))
    warmup = min(total - 1, math.ceil(int(recipe.get("warmup_samples", 0)) / batch))
    return Budget(batch, micro, total, max(0, warmup))


def augment_settings(recipe: dict) -> dict[str, Any]:
    aug = dict(DEFAULT_AUGMENT)
    unknown = set(recipe.get("augment") or {}) - set(DEFAULT_AUGMENT)
    if unknown:
        raise RecipeError(f"unknown augment keys: {sorted(unknown)}")
    aug.update(recipe.get("augment") or {})
    return aug


def eval_transform(recipe: dict) -> Callable:
    return create_transform(
        input_size=int(recipe["input_size"]), is_training=False,
        interpolation=recipe.get("interpolation", "bicubic"),
        crop_pct=float(recipe.get("crop_pct", 0.875)),
        mean=tuple(recipe.get("mean", IMAGENET_MEAN)), std=tuple(recipe.get("std", IMAGENET_STD)))


def train_transform(recipe: dict) -> Callable:
    """RandomResizedCrop + flip + RandAugment through timm, or (random_crop: false) the eval
    resize + centre crop followed by whatever augmentations remain switched on."""
    aug = augment_settings(recipe)
    size = int(recipe["input_size"])
    interp = recipe.get("interpolation", "bicubic")
    mean = tuple(recipe.get("mean", IMAGENET_MEAN))
    std = tuple(recipe.get("std", IMAGENET_STD))
    if aug["random_crop"]:
        return create_transform(
            input_size=size, is_training=True, scale=tuple(aug["scale"]), ratio=tuple(aug["ratio"]),
            hflip=float(aug["hflip"]), auto_augment=aug["auto_augment"] or None,
            color_jitter=float(aug["color_jitter"]), interpolation=interp, re_prob=0.0,
            mean=mean, std=std)
    ops: list = [T.Resize(int(math.floor(size / float(recipe.get("crop_pct", 0.875)))),
                          interpolation=str_to_interp_mode(interp)),
                 T.CenterCrop(size)]
    flip = [T.RandomHorizontalFlip(float(aug["hflip"]))] if aug["hflip"] else []
    pil_ops: list = []
    if aug["auto_augment"]:
        hparams = {"translate_const": int(size * 0.45),
                   "img_mean": tuple(round(255 * m) for m in mean)}
        pil_ops.append(rand_augment_transform(aug["auto_augment"], hparams))
    if aug["color_jitter"]:
        cj = float(aug["color_jitter"])
        pil_ops.append(T.ColorJitter(cj, cj, cj))
    to_tensor = [T.ToTensor(), T.Normalize(mean, std)]
    if pil_ops:
        return T.Compose(ops + flip + pil_ops + to_tensor)
    # flip only: flipped after ToTensor + Normalize (per-pixel, so the same draw gives the same
    # tensor), which leaves a deterministic prefix that ShardImageDataset(cache_images=True) keeps
    return T.Compose(ops + to_tensor + flip)


def mixup_and_loss(recipe: dict, num_classes: int) -> tuple[Callable | None, nn.Module]:
    """timm Mixup/CutMix (label smoothing inside it) with soft-target CE, or plain (smoothed) CE."""
    aug = augment_settings(recipe)
    smoothing = float(recipe.get("label_smoothing", 0.1))
    if float(aug["mixup"]) > 0 or float(aug["cutmix"]) > 0:
        mix = Mixup(mixup_alpha=float(aug["mixup"]), cutmix_alpha=float(aug["cutmix"]),
                    prob=float(aug["mixup_prob"]), switch_prob=float(aug["switch_prob"]),
                    mode=aug["mixup_mode"], label_smoothing=smoothing, num_classes=num_classes)
        return mix, SoftTargetCrossEntropy()
    if smoothing > 0:
        return None, LabelSmoothingCrossEntropy(smoothing=smoothing)
    return None, nn.CrossEntropyLoss()


def optimizer(recipe: dict, model: nn.Module):
    opt = recipe.get("optimizer", "adamw")
    kwargs: dict[str, Any] = {}
    if "betas" in recipe:
        kwargs["betas"] = tuple(recipe["betas"])
    if "eps" in recipe:
        kwargs["eps"] = float(recipe["eps"])
    if "momentum" in recipe:
        kwargs["momentum"] = float(recipe["momentum"])
    if opt == "lars":
        # MAE / MoCo v3 LARS: trust ratio on every >1-D parameter even with weight decay 0
        # (timm's Lars adapts only when decayed), none on biases and norms.
        kwargs["param_group_fn"] = mae_lars_param_groups
    # filter_bias_and_bn: no weight decay on biases and 1-D parameters (norms, layer scale).
    return create_optimizer_v2(model, opt=opt, lr=float(recipe["lr"]),
                               weight_decay=float(recipe["weight_decay"]),
                               filter_bias_and_bn=True, **kwargs)


class ConstantLR:
    """A constant learning rate after an optional linear warmup from 0 (Whac-A-Mole's UrbanCars
    recipe: SGD at a constant 1e-3), with timm's scheduler interface (``step_update``)."""

    def __init__(self, opt, warmup_steps: int = 0):
        self.opt, self.warmup = opt, int(warmup_steps)
        self.base = [g["lr"] for g in opt.param_groups]
        self.step_update(0)

    def step_update(self, num_updates: int) -> None:
        f = min(1.0, (num_updates + 1) / self.warmup) if self.warmup else 1.0
        for g, lr in zip(self.opt.param_groups, self.base):
            g["lr"] = lr * f

    def state_dict(self) -> dict:
        return {"base": self.base, "warmup": self.warmup}

    def load_state_dict(self, state: dict) -> None:
        self.base, self.warmup = list(state["base"]), int(state["warmup"])


def scheduler(recipe: dict, opt, budget: Budget):
    """Per-step cosine to min_lr after a linear warmup from 0 (ConvNeXt's schedule); with
    ``sched: constant``, a constant lr after the warmup."""
    kind = recipe.get("sched", "cosine")
    if kind == "constant":
        return ConstantLR(opt, budget.warmup_steps)
    if kind != "cosine":
        raise ValueError(f"recipe 'sched': {kind!r} is not one of 'cosine', 'constant'")
    sched, _ = create_scheduler_v2(
        opt, sched="cosine", num_epochs=max(1, budget.total_steps - budget.warmup_steps),
        warmup_epochs=budget.warmup_steps, warmup_lr=0.0, warmup_prefix=True,
        min_lr=float(recipe.get("min_lr", 1e-6)), step_on_epochs=False, updates_per_epoch=1)
    return sched


def mae_lars_param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Parameter groups that make timm's ``Lars`` behave as MAE's / MoCo v3's LARS.

    Trainable parameters with more than one dimension get the trust ratio always
    (``always_adapt``) and the optimizer's weight decay; 1-D ones (biases, norm scales) get
    neither. A submodule with an ``lr`` attribute that is not None (a head of a probe sweep,
    ``vlmbias.dsc.probe.ProbeHead``) gets groups of its own at that lr. Pass as
    ``create_optimizer_v2(model, "lars", ..., param_group_fn=...)``."""
    owners = [m for m in model.modules() if getattr(m, "lr", None) is not None]
    seen = {id(p) for m in owners for p in m.parameters()}
    parts = [(m.parameters(), {"lr": float(m.lr)}) for m in owners]
    parts.append(((p for p in model.parameters() if id(p) not in seen), {}))
    groups: list[dict[str, Any]] = []
    for params, extra in parts:
        adapt, plain = [], []
        for p in params:
            if p.requires_grad:
                (adapt if p.ndim > 1 else plain).append(p)
        if adapt:
            groups.append({"params": adapt, "always_adapt": True, **extra})
        if plain:
            groups.append({"params": plain, "weight_decay": 0.0, "always_adapt": False, **extra})
    return groups

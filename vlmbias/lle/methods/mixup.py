"""Mixup (Zhang et al., 2018) on UrbanCars.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/mixup.py``, the torchvision reference
``RandomMixup``; research notes §4.3): in the training collate function every batch is mixed with
probability p = 1: one λ ~ Beta(α, α) per batch (α = **0.1** on UrbanCars), each image becomes
``λ x_i + (1 - λ) x_{i-1}`` (the batch rolled by one), its target the same mix of the one-hot
labels; the criterion is cross-entropy on those soft targets; no label smoothing.

Here: timm's ``Mixup(mixup_alpha=α, cutmix_alpha=0, prob=1, label_smoothing=0)`` in
``Objective.batch`` (after the batch reaches the device, outside autocast) and timm's
``SoftTargetCrossEntropy`` on fp32 logits. Deviations:

- timm pairs sample i with sample B-1-i (the batch flipped), the official with i-1 (rolled):
  the same λ distribution and the same mixed targets, other partners;
- timm needs an even batch: an odd micro-batch (the loop drops the last incomplete batch, but a
  micro-batch size can itself be odd) is mixed over its first B-1 samples and the last keeps its
  image and a one-hot target;
- the mix happens on the device batch rather than in the DataLoader's collate function
  (identical images and targets, other random-number stream: NumPy's, seeded by the loop per
  epoch).

:class:`MixObjective` is shared with CutMix.
"""

from __future__ import annotations

import torch
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy

from vlmbias.lle.methods.base import Context, Setup
from vlmbias.train.objectives import Objective


class MixObjective(Objective):
    """A timm ``Mixup`` (Mixup or CutMix, no label smoothing) per batch and soft-target CE."""

    def __init__(self, mix: Mixup, num_classes: int):
        self.mix = mix
        self.num_classes = int(num_classes)
        self.criterion = SoftTargetCrossEntropy()

    def batch(self, x, y):
        n = len(x) - len(x) % 2                     # timm Mixup needs an even batch
        target = torch.nn.functional.one_hot(y, self.num_classes).to(torch.float32)
        if n >= 2:
            x = x.clone()                               # timm mixes in place: leave the caller's batch
            _, head_t = self.mix(x[:n], y[:n])          # mixes the view x[:n] of the copy in place
            target = torch.cat([head_t.to(target.dtype), target[n:]])
        return x, target

    def loss(self, model, x, target, idx):
        return self.criterion(model(x).float(), target)


def setup(ctx: Context) -> Setup:
    alpha = float(ctx.params.get("alpha", 0.1))
    mix = Mixup(mixup_alpha=alpha, cutmix_alpha=0.0, prob=1.0, label_smoothing=0.0,
                num_classes=ctx.num_classes)
    return Setup(model=ctx.new_model(), objective=MixObjective(mix, ctx.num_classes),
                 info={"alpha": alpha, "prob": 1.0})

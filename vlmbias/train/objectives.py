"""The seam of the one training loop (``vlmbias.train.loop.fit``): what it minimises and how it
weighs the training samples.

An :class:`Objective` turns a micro-batch into a loss. The loop calls, per micro-batch,
``x, target = objective.batch(x, y)`` (outside autocast: batch-level augmentation such as
Mixup/CutMix) and then ``objective.loss(model, x, target, idx)`` (inside autocast), ``idx``
being the dataset indices of the batch, so an objective can keep per-sample state (losses,
weights, groups). Before every epoch it asks ``objective.sample_weights(epoch)``: ``None``
shuffles uniformly, a tensor of one weight per training sample draws the epoch with
replacement in proportion to it (upsampling, e.g. JTT's error set). Modules an objective
trains besides the model (a second network, extra heads) are listed by ``modules()``: their
parameters join the optimizer. ``state_dict``/``load_state_dict`` carry any other state
across a checkpoint, so an interrupted run resumes where it stopped.

``distributed`` says whether the objective may train on several processes (DDP, each rank
seeing its slice of every micro-batch): only objectives whose loss is a mean over the batch
and whose state (if any) does not depend on which samples a rank saw. The base class says no,
so an objective keeping per-sample or per-batch state (LfF's per-sample loss EMAs, GroupDRO's
group weights, JTT's error set, LLE's shift lookups, DebiAN's second network) is refused by
``fit`` under N > 1 processes rather than silently diverging across ranks.

Two objectives cover the families so far: :class:`Classification` (the recipe's Mixup/CutMix
and (soft-target) cross-entropy, the default) and :class:`LossFunction` (any
``fn(model, x, y) -> loss``: masked image modelling, CLIP's contrastive loss). Debiasing
methods (LLE and its baselines) plug in as objectives of their own.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from vlmbias.train import recipe as R


class Objective:
    """The default behaviour of every hook; subclasses override what they need."""

    distributed = False  # may it train on several processes (see the module doc)?

    def batch(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, y

    def loss(self, model: nn.Module, x: torch.Tensor, target: torch.Tensor,
             idx: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample_weights(self, epoch: int) -> torch.Tensor | None:
        return None

    def modules(self) -> list[nn.Module]:
        return []

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")


class Classification(Objective):
    """The recipe's classification objective: timm Mixup/CutMix when configured (label smoothing
    inside it, soft-target cross-entropy), else (label-smoothed) cross-entropy."""

    distributed = True

    def __init__(self, recipe: dict, num_classes: int):
        self.mix, self.criterion = R.mixup_and_loss(recipe, num_classes)

    def batch(self, x, y):
        return self.mix(x, y) if self.mix is not None else (x, y)

    def loss(self, model, x, target, idx):
        return self.criterion(model(x), target)


class LossFunction(Objective):
    """Any ``fn(model, x, y) -> scalar loss``, without batch augmentation. ``distributed``: the
    loss is a mean of per-sample terms, so N processes on N slices of the batch train as one on
    the whole batch (MAE's reconstruction loss, a captioning loss); not so for a loss coupling
    the samples of a batch (CLIP's contrastive loss takes its negatives from the batch)."""

    def __init__(self, fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
                 distributed: bool = True):
        self.fn = fn
        self.distributed = bool(distributed)

    def loss(self, model, x, target, idx):
        return self.fn(model, x, target)

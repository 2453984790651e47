"""DebiAN, Discover and Cure (Li et al., ECCV 2022).

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/debian.py``; after
zhihengli-UR/DebiAN):

- a second network of the same architecture, the "bias discoverer", with ``num_classes`` outputs
  read through a **sigmoid** (``p_spurious[:, c]``: the probability that a sample of class c is
  in the discoverer's first group), its own SGD with the run's settings;
- two independently shuffled loaders of the training set, zipped; per pair of batches, two
  alternating steps:

  1. classifier (train mode; discoverer in eval mode, no grad) on the first batch: per-sample CE;
     for every class c in the batch, with ``p_v = softmax(classifier)[:, c]`` and
     ``p_s = sigmoid(discoverer)[:, c]`` of its samples,
     ``pos = sum(p_s * p_v) / (sum(p_s) + 1e-6)``,
     ``neg = sum((1 - p_s) * p_v) / (sum(1 - p_s) + 1e-6)``; if ``neg < pos`` then
     ``p_s <- 1 - p_s``; the CE of those samples is multiplied by ``1 + p_s`` (so the group the
     classifier does worse on weighs more); loss = mean over the batch; SGD step;
  2. discoverer (train mode; classifier in eval mode, no grad) on the second batch: per class in
     the batch, the same pos / neg, ``-log(1e-6 + |pos - neg|)`` (maximise the equal-opportunity
     gap) plus the penalty ``-log(1e-6 + 1 - |mean(p_s) - mean(1 - p_s)|)`` (balanced groups),
     each averaged over the classes present; SGD step.

Here: both steps in one loss per batch, ``classifier term + discoverer term``, with the same
modes (each network is in eval mode and without gradient where it serves the other) — their
gradients do not mix, so the loop's one optimizer (the discoverer is in ``modules()``; SGD is per
parameter) applies both updates at once. Deviations:

- **one loader**: the discoverer's step uses the classifier's batch instead of an independently
  shuffled second batch (both networks still see every training sample once per epoch, in random
  batches; an in-loop second loader would load every batch twice);
- the discoverer's step sees the classifier *before* this batch's update (the official updates
  the classifier first): a lag of one step;
- the official's fp16 AMP is the loop's bf16 autocast (the losses here are computed in fp32);
  with gradient accumulation the per-class statistics are those of a micro-batch.
"""

from __future__ import annotations

import torch

from vlmbias.lle.methods.base import Context, Setup, per_sample_ce
from vlmbias.train.objectives import Objective

EPS = 1e-6   # the official utils.EPS


def _group_avg(p_v: torch.Tensor, p_s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pos = (p_s * p_v).sum() / (p_s.sum() + EPS)
    neg = ((1 - p_s) * p_v).sum() / ((1 - p_s).sum() + EPS)
    return pos, neg


def _per_class(p_vanilla, p_spurious, label, num_classes):
    """Per class present in the batch: (mask, true-class p of the classifier, of the discoverer,
    and the two groups' mean classifier p), the unit both official functions loop over."""
    for c in range(num_classes):
        m = label == c
        if bool(m.any()):
            p_v, p_s = p_vanilla[m, c], p_spurious[m, c]
            yield (m, p_v, p_s, *_group_avg(p_v, p_s))


def classifier_weights(p_vanilla: torch.Tensor, p_spurious: torch.Tensor, label: torch.Tensor,
                       num_classes: int) -> torch.Tensor:
    """The official per-sample weight of the classifier's CE, ``1 + p_s`` (flipped so that the
    group with the lower mean true-class probability gets the larger weight); no gradient."""
    p_vanilla, p_spurious = p_vanilla.detach().float(), p_spurious.detach().float()
    weight = torch.ones(len(label), device=p_vanilla.device)
    for m, _, p_s, pos, neg in _per_class(p_vanilla, p_spurious, label, num_classes):
        if neg < pos:
            p_s = 1 - p_s
        weight[m] = 1 + p_s
    return weight


def discoverer_loss(p_vanilla: torch.Tensor, p_spurious: torch.Tensor, label: torch.Tensor,
                    num_classes: int) -> torch.Tensor:
    """The official discoverer loss: mean over the classes present of
    ``-log(EPS + |pos - neg|)`` plus mean of ``-log(EPS + 1 - |mean(p_s) - mean(1 - p_s)|)``."""
    deo, penalty, n = 0, 0, 0
    for _, _, p_s, pos, neg in _per_class(p_vanilla, p_spurious, label, num_classes):
        deo = deo - torch.log(EPS + torch.abs(pos - neg))
        penalty = penalty - torch.log(EPS + 1 - torch.abs(p_s.mean() - (1 - p_s).mean()))
        n += 1
    return deo / n + penalty / n


class DebiANObjective(Objective):
    def __init__(self, discoverer: torch.nn.Module, num_classes: int):
        self.discoverer = discoverer
        self.num_classes = int(num_classes)

    def loss(self, model, x, target, idx):
        disc = self.discoverer
        # 1. the classifier, re-weighted by the (eval-mode) discoverer's groups
        disc.eval()
        with torch.no_grad():
            p_spurious = torch.sigmoid(disc(x).float())
        logits = model(x).float()
        ce = per_sample_ce(logits, target)
        w = classifier_weights(torch.softmax(logits, dim=1), p_spurious, target, self.num_classes)
        cls_loss = (ce * w).mean()
        # 2. the discoverer, against the (eval-mode) classifier
        was_training = model.training
        model.eval()
        with torch.no_grad():
            p_vanilla = torch.softmax(model(x).float(), dim=1)
        model.train(was_training)
        disc.train()
        dis_loss = discoverer_loss(p_vanilla, torch.sigmoid(disc(x).float()), target, self.num_classes)
        return cls_loss + dis_loss

    def modules(self):
        return [self.discoverer]


def setup(ctx: Context) -> Setup:
    model = ctx.new_model()           # first, as the official (and the same init as ERM's)
    return Setup(model=model, objective=DebiANObjective(ctx.new_model(), ctx.num_classes))

"""SD, Spectral Decoupling (Pezeshki et al., 2021) on UrbanCars.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/spectral_decouple.py``, after the
Gradient Starvation code; research notes §4.3): the loss is ``CE(logits, y) + sp ·
mean_i(logits[i, y_i]²)`` — the squared logit of the **true class** only, averaged over the batch —
with sp = λ = **0.1** on UrbanCars, and the SGD optimizer is built with ``weight_decay=0.0`` (the
L2 penalty on the logits replaces weight decay).

Here: the same loss on fp32 logits (:func:`sd_loss`), and weight decay 0 by
``info["recipe_overrides"] = {"weight_decay": params["weight_decay"]}``, which ``vlmbias.lle.run``
applies to the recipe before it builds the optimizer. Deviations: none beyond the loop's own (the
official computes the penalty under fp16 AMP; biases and 1-D parameters have no weight decay in
the recipe's optimizer anyway).
"""

from __future__ import annotations

import torch

from vlmbias.lle.methods.base import Context, Setup, per_sample_ce
from vlmbias.train.objectives import Objective


def sd_loss(logits: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """Mean CE + λ · mean of the true-class logit squared."""
    logits = logits.float()
    true_logit = logits.gather(1, y[:, None]).squeeze(1)
    return per_sample_ce(logits, y).mean() + lam * true_logit.pow(2).mean()


class SDObjective(Objective):
    def __init__(self, lam: float):
        self.lam = float(lam)

    def loss(self, model, x, target, idx):
        return sd_loss(model(x), target, self.lam)


def setup(ctx: Context) -> Setup:
    lam = float(ctx.params.get("lambda", 0.1))
    wd = float(ctx.params.get("weight_decay", 0.0))
    return Setup(model=ctx.new_model(), objective=SDObjective(lam),
                 info={"lambda": lam, "recipe_overrides": {"weight_decay": wd}})

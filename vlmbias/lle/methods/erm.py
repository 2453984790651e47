"""ERM on UrbanCars (official ``urbancars_trainers/erm.py``): plain mean cross-entropy on the
shuffled training set, no label smoothing or Mixup (the recipe's defaults do not apply: the
official criterion is ``nn.CrossEntropyLoss()``)."""

from __future__ import annotations

from vlmbias.lle.methods.base import Context, Setup
from vlmbias.lle.methods.jtt import PlainCE


def setup(ctx: Context) -> Setup:
    return Setup(model=ctx.new_model(), objective=PlainCE())

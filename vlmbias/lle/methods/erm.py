"""ERM, empirical risk minimisation: the UrbanCars baseline.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/erm.py``): the classifier is trained
with ``nn.CrossEntropyLoss()`` (plain mean cross-entropy, no label smoothing, no Mixup) on the
shuffled training set with the run's SGD settings (research notes §3.3, §4.3).

Here: a fresh ``ctx.new_model()`` and :class:`~vlmbias.lle.methods.jtt.PlainCE` (the recipe's
default objective would add its label smoothing / Mixup, which the official ERM does not have).
Deviations: none beyond the one training loop's own (samples-seen budget, bf16 autocast on CUDA).
"""

from __future__ import annotations

from vlmbias.lle.methods.base import Context, Setup
from vlmbias.lle.methods.jtt import PlainCE


def setup(ctx: Context) -> Setup:
    return Setup(model=ctx.new_model(), objective=PlainCE(), info={"criterion": "plain_ce"})

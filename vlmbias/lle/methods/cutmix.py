"""CutMix (Yun et al., 2019) on UrbanCars.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/cutmix.py``, the torchvision reference
``RandomCutmix``; research notes §4.3): in the training collate function every batch is cut-mixed
with probability p = 1: one λ ~ Beta(α, α) per batch (α = 1.0), a box of side ``sqrt(1 - λ)`` of
the image's, centred on a uniform pixel and clipped to the image, is pasted from the batch rolled
by one; λ is corrected to the pasted area's complement and the targets are the λ-mix of the
one-hot labels; soft-target cross-entropy; no label smoothing.

Here: timm's ``Mixup(mixup_alpha=0, cutmix_alpha=α, prob=1, label_smoothing=0)`` (the same box
and the same area-corrected λ) in ``Objective.batch`` and soft-target CE
(:class:`vlmbias.lle.methods.mixup.MixObjective`). Deviations, as Mixup's: timm pastes from the
flipped batch (sample B-1-i) rather than the rolled one (i-1); an odd micro-batch is cut-mixed over
its first B-1 samples and the last keeps its image and one-hot target; the mix is done on the
device batch, with NumPy's random stream (seeded by the loop per epoch).
"""

from __future__ import annotations

from timm.data import Mixup

from vlmbias.lle.methods.base import Context, Setup
from vlmbias.lle.methods.mixup import MixObjective


def setup(ctx: Context) -> Setup:
    alpha = float(ctx.params.get("alpha", 1.0))
    mix = Mixup(mixup_alpha=0.0, cutmix_alpha=alpha, prob=1.0, label_smoothing=0.0,
                num_classes=ctx.num_classes)
    return Setup(model=ctx.new_model(), objective=MixObjective(mix, ctx.num_classes),
                 info={"alpha": alpha, "prob": 1.0})

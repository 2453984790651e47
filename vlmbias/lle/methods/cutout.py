"""Cutout (DeVries & Taylor, 2017) on UrbanCars, as torchvision's random erasing.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/cutout.py``; research notes §4.3): the
train transform is RandomHorizontalFlip, ToTensor, Normalize(ImageNet mean/std) and then
``transforms.RandomErasing(p=0.1)`` with torchvision's defaults (scale (0.02, 0.33), ratio
(0.3, 3.3), value 0 — the mean colour, since it comes after normalisation): with probability p a
random rectangle of each image, independently per image, is set to 0; plain CE (the ERM trainer).

Here: the same ``torchvision.transforms.RandomErasing(p, scale, ratio=(0.3, 3.3), value=0)``,
applied to every sample of the batch in turn in ``Objective.batch`` (on the normalised batch
after it reaches the device, outside autocast), and plain mean CE
(:class:`~vlmbias.lle.methods.jtt.PlainCE`). Deviation: the erasing runs on the collated device
batch instead of in the dataset's transform (the same per-sample distribution; its random numbers
come from torch's CPU generator, which the loop seeds per epoch); the training set is
``ctx.train_ds`` unchanged.
"""

from __future__ import annotations

from torchvision import transforms

from vlmbias.lle.methods.base import Context, Setup
from vlmbias.lle.methods.jtt import PlainCE


class CutoutObjective(PlainCE):
    """Plain CE on a batch whose every image went through ``RandomErasing`` on its own."""

    def __init__(self, p: float, scale: tuple[float, float], ratio: tuple[float, float] = (0.3, 3.3)):
        super().__init__()
        self.erase = transforms.RandomErasing(p=float(p), scale=tuple(scale), ratio=tuple(ratio),
                                              value=0, inplace=True)

    def batch(self, x, y):
        if self.erase.p <= 0:
            return x, y
        x = x.clone()                 # erased in place, per sample (a view of the copy each)
        for i in range(len(x)):
            self.erase(x[i])
        return x, y


def setup(ctx: Context) -> Setup:
    p = float(ctx.params.get("p", 0.1))
    scale = tuple(float(s) for s in ctx.params.get("scale", (0.02, 0.33)))
    return Setup(model=ctx.new_model(), objective=CutoutObjective(p, scale),
                 info={"p": p, "scale": list(scale), "ratio": [0.3, 3.3], "value": 0})

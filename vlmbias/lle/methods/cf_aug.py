"""CF+F Aug, counterfactual + factual augmentation (after Chang et al.'s ``robust_cls_model``) on
UrbanCars.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/cf_f_aug.py``; research notes §4.3):
the object is assumed to be the fixed centre box of the 256-px image (``start = int(256·0.25)``,
side ``int(256·0.5)``: rows and columns 64-191). Per batch of normalised images, without gradient:

- *factual* image: the box is kept; outside it, a random uniform colour per image and channel
  (``U(0, 1)``, shape [B, C, 1, 1]) plus per-pixel N(0, 0.2) noise, clamped to [0, 1] and then
  normalised with the ImageNet mean/std;
- *counterfactual* image: ``(1 - box) · image``, i.e. the box set to 0 (the mean colour after
  normalisation) and the rest kept, labelled **1 − y**;
- one forward pass of ``cat([image, factual, counterfactual])`` (3B images, so BatchNorm sees all
  three) and the loss ``CE(orig, y) + CE(factual, y) + CE(cf, 1 − y)`` (three batch means, summed).

Here: the same in ``Objective.batch`` (outside autocast: the 3B images and the targets
``[y, y, 1 − y]``) and ``Objective.loss`` (one forward, the three mean CEs summed), the box from
``params["box"]`` as fractions of H and W (``int(H·lo)`` to ``int(H·hi)``, 64-192 at 256 px), the
noise std from ``params["noise_std"]`` and the normalisation from ``ctx.mean``/``ctx.std``. The
factual image keeps the normalised box pixels and pastes the normalised random background outside
it, which is the un-normalise / compose / re-normalise of the brief done exactly in the normalised
space, as the official. Deviations: none beyond the loop's own; note that a micro-batch of B
images is a forward pass of 3B (as the official's).
"""

from __future__ import annotations

import torch

from vlmbias.core.device import channels_last
from vlmbias.lle.methods.base import Context, Setup, per_sample_ce
from vlmbias.train.objectives import Objective


def box_mask(h: int, w: int, box: tuple[float, float], device=None, dtype=torch.float32) -> torch.Tensor:
    """[1, 1, H, W]: 1 inside the centre box ``[int(H·lo), int(H·hi)) x [int(W·lo), int(W·hi))``."""
    lo, hi = float(box[0]), float(box[1])
    m = torch.zeros(1, 1, h, w, device=device, dtype=dtype)
    m[:, :, int(h * lo):int(h * hi), int(w * lo):int(w * hi)] = 1
    return m


class CFAugObjective(Objective):
    """Original + factual (box kept, random background) + counterfactual (box zeroed, label 1 − y)."""

    def __init__(self, box: tuple[float, float], noise_std: float, mean: tuple, std: tuple):
        self.box = (float(box[0]), float(box[1]))
        self.noise_std = float(noise_std)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    @torch.no_grad()
    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(factual, counterfactual) images of a normalised batch."""
        b, c, h, w = x.shape
        m = box_mask(h, w, self.box, x.device, x.dtype)
        bg = torch.rand(b, c, 1, 1, device=x.device, dtype=x.dtype).expand(b, c, h, w)
        bg = (bg + torch.randn(b, c, h, w, device=x.device, dtype=x.dtype) * self.noise_std).clamp_(0.0, 1.0)
        bg = (bg - self.mean.to(x.device, x.dtype)) / self.std.to(x.device, x.dtype)
        return x * m + bg * (1 - m), x * (1 - m)

    def batch(self, x, y):
        factual, cf = self.views(x)
        x3 = torch.cat([x, factual, cf])
        x3 = channels_last(x3)
        return x3, torch.cat([y, y, 1 - y])

    def loss(self, model, x, target, idx):
        losses = per_sample_ce(model(x), target)
        return losses.view(3, -1).mean(1).sum()        # CE(orig, y) + CE(factual, y) + CE(cf, 1 - y)


def setup(ctx: Context) -> Setup:
    if ctx.num_classes != 2:
        raise ValueError(f"cf_aug: the counterfactual label 1 - y needs 2 classes, got {ctx.num_classes}")
    box = tuple(float(b) for b in ctx.params.get("box", (0.25, 0.75)))
    noise = float(ctx.params.get("noise_std", 0.2))
    objective = CFAugObjective(box, noise, ctx.mean, ctx.std)
    return Setup(model=ctx.new_model(), objective=objective, info={"box": list(box), "noise_std": noise})

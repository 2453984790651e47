"""AugMix (Hendrycks et al., 2020) with the Jensen-Shannon consistency loss on UrbanCars.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/augmix.py`` and
``model/augmix/augmix_transforms.py``, after google-research/augmix; research notes §4.3):

- the train transform is RandomHorizontalFlip only; ``AugMixDataset`` then gives every sample
  three views, ``preprocess(x)`` (ToTensor + Normalize) and two independent ``random_aug(x)``;
- ``random_aug``: ws ~ Dirichlet(1, 1, 1) (mixture width 3), m ~ Beta(1, 1); each of the 3 chains
  applies 1-3 random ops (depth -1) of autocontrast, equalize, posterize, rotate, solarize,
  shear x/y, translate x/y (no colour / contrast / brightness / sharpness) at severity 1 on the
  PIL image; the result is ``(1 - m)·preprocess(x) + m·Σ ws_i·preprocess(chain_i(x))``;
- loss: ``CE(clean, y) + 12 · JSD``, with one forward pass of ``cat([clean, aug1, aug2])`` and
  ``JSD = (KL(M‖p_clean) + KL(M‖p_aug1) + KL(M‖p_aug2)) / 3``, the p's the three softmaxes,
  ``log M = log clamp((p_clean + p_aug1 + p_aug2) / 3, 1e-7, 1)`` and each KL
  ``KLDivLoss(reduction="batchmean")(log M, p)``.

Here: :class:`AugMixViews` wraps ``ctx.train_ds`` (the recipe's train transform: flip, normalise)
and yields ``(cat([clean, aug1, aug2]) of shape [3C, H, W], y)``: the clean view is the
dataset's tensor as it is; each augmented view is that tensor un-normalised with
``ctx.mean``/``ctx.std`` to uint8, passed through :class:`OfficialAugMix` and re-normalised.
``Objective.batch`` turns the ``[B, 3C, H, W]`` batch into the ``[3B, C, H, W]`` of the official
concatenation; ``Objective.loss`` is CE(clean) + jsd_weight · :func:`jsd` on fp32 logits. The
three views travel as channels, not as a ``[B, 3, C, H, W]`` stack, because the loop makes every
batch ``channels_last``, which needs a 4-D tensor.

:class:`OfficialAugMix` is timm's ``AugMixAugment`` (its "basic" mixing, the official one) over
timm's PIL ops restricted to the official op pool (:data:`OFFICIAL_OPS`, no colour / contrast /
brightness / sharpness), with the official scales: each op's level uniform in [0, severity] on
timm's 0-10 scale (``magnitude_std`` inf), rotate up to 30·level/10 degrees, shear 0.3·level/10,
translate ``IMAGE_SIZE / 3`` (a third of the image) · level/10, posterize ``4 - int(0.4·level)``
bits, solarize threshold ``256 - int(25.6·level)``; rotate / shear / translate fill black with
bilinear resampling, as the official PIL calls. Deviations, each small:

- the level's lower bound is 0 (the official samples it in [0.1, severity]), and rotate and
  translate take the level's real value (the official rounds degrees and pixels down to integers);
- the chains are mixed in pixel space and rounded to uint8 (timm), the official mixes the
  normalised tensors (at most 1/255 per pixel);
- the augmented views start from the normalised tensor of the train transform, rounded back to
  uint8 (lossless for an 8-bit image under flip + ToTensor + Normalize; a clamp to [0, 1] first);
- the random numbers are Python's and NumPy's global ones (the loop reseeds both every epoch),
  drawn in the dataset's ``__getitem__`` as the official's.

(Before: torchvision's ``AugMix``, whose severity 1 picks the first bin of a grid starting at 0:
every rotate / shear / translate was an identity and solarize nearly so, a milder augmentation
than the official's; its per-sample tensor ops also took twice the time of timm's PIL ops: 7.0 vs
3.7 ms a view at 32 px, measured on one core, so about half of an AugMix run's input time.)
"""

from __future__ import annotations

import torch
from PIL import Image
from timm.data.auto_augment import AugMixAugment, augmix_ops
from torch.nn import functional as F
from torch.utils.data import Dataset
from torchvision.transforms.functional import pil_to_tensor, to_pil_image

from vlmbias.core.device import channels_last
from vlmbias.lle.methods.base import Context, Setup, per_sample_ce
from vlmbias.train.objectives import Objective


#: The official op pool (google-research/augmix ``augmentations.augmentations``), by timm's names.
OFFICIAL_OPS = ("AutoContrast", "Equalize", "PosterizeIncreasing", "Rotate", "SolarizeIncreasing",
                "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")


class OfficialAugMix:
    """AugMix on a ``[C, H, W]`` uint8 tensor: timm's ``AugMixAugment`` over :data:`OFFICIAL_OPS`
    at the official scales (module doc), on the PIL image; returns a ``[C, H, W]`` uint8 tensor."""

    def __init__(self, severity: int = 1, width: int = 3, depth: int = -1, alpha: float = 1.0):
        if severity <= 0:
            raise ValueError(f"augmix: severity must be > 0, got {severity}")
        hparams = {"magnitude_std": float("inf"), "translate_pct": 1 / 3, "img_mean": (0, 0, 0),
                   "interpolation": Image.BILINEAR}
        ops = augmix_ops(magnitude=severity, hparams=hparams, transforms=list(OFFICIAL_OPS))
        self.augment = AugMixAugment(ops, alpha=alpha, width=width, depth=depth, blended=False)

    def __call__(self, u8: torch.Tensor) -> torch.Tensor:
        return pil_to_tensor(self.augment(to_pil_image(u8, "RGB")))


class AugMixViews(Dataset):
    """``(cat([x, augmix(x), augmix(x)]) [3C, H, W], y)`` for every ``(x, y)`` of a dataset of
    normalised image tensors; the AugMix views are made on the uint8 un-normalised image and
    normalised again."""

    def __init__(self, ds: Dataset, augmix, mean: tuple, std: tuple):
        self.ds, self.augmix = ds, augmix
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.ds)

    def to_uint8(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() * self.std + self.mean).clamp(0, 1).mul(255).round().to(torch.uint8)

    def normalise(self, u8: torch.Tensor) -> torch.Tensor:
        return (u8.float() / 255 - self.mean) / self.std

    def __getitem__(self, i: int):
        x, y = self.ds[i]
        u8 = self.to_uint8(x)
        views = [x.float(), self.normalise(self.augmix(u8)), self.normalise(self.augmix(u8))]
        return torch.cat(views), y


def jsd(logits_clean: torch.Tensor, logits_aug1: torch.Tensor, logits_aug2: torch.Tensor) -> torch.Tensor:
    """The official Jensen-Shannon consistency term: the mean over the three views of
    ``KL(M ‖ p_view)`` (``KLDivLoss(reduction="batchmean")``), M their clamped mean softmax."""
    ps = [torch.softmax(lg.float(), dim=1) for lg in (logits_clean, logits_aug1, logits_aug2)]
    log_m = torch.clamp((ps[0] + ps[1] + ps[2]) / 3.0, 1e-7, 1).log()
    return sum(F.kl_div(log_m, p, reduction="batchmean") for p in ps) / 3.0


class AugMixObjective(Objective):
    """CE on the clean view + jsd_weight · JSD(clean, aug1, aug2), one forward of the 3B images."""

    def __init__(self, jsd_weight: float):
        self.jsd_weight = float(jsd_weight)

    def batch(self, x, y):
        b, c3, h, w = x.shape
        if c3 % 3:
            raise ValueError(f"augmix: a batch of {c3} channels is not three stacked views")
        x3 = x.reshape(b, 3, c3 // 3, h, w).transpose(0, 1).reshape(3 * b, c3 // 3, h, w)
        x3 = channels_last(x3)
        return x3, y

    def loss(self, model, x, target, idx):
        clean, aug1, aug2 = model(x).chunk(3)
        return per_sample_ce(clean, target).mean() + self.jsd_weight * jsd(clean, aug1, aug2)


def setup(ctx: Context) -> Setup:
    p = ctx.params
    width, depth, severity = int(p.get("width", 3)), int(p.get("depth", -1)), int(p.get("severity", 1))
    alpha, weight = float(p.get("alpha", 1.0)), float(p.get("jsd_weight", 12.0))
    augmix = OfficialAugMix(severity=severity, width=width, depth=depth, alpha=alpha)
    info = {"width": width, "depth": depth, "severity": severity, "alpha": alpha, "jsd_weight": weight}
    return Setup(model=ctx.new_model(), objective=AugMixObjective(weight),
                 train_ds=AugMixViews(ctx.train_ds, augmix, ctx.mean, ctx.std), info=info)

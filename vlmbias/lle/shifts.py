"""LLE's UrbanCars training set: the original images and two counterfactual shifts made from the
objects' masks (official ``dataset/urbancars_aug.py`` and ``urbancars_trainers/lle.py``;
research notes §3.3). Shift types, one block of ``N`` (= |train|) indices each:

- **0, original**: the training image with the run's train transform (flip + normalisation);
- **1, BG Aug**: the image's car (image x ``car_mask``, jointly flipped) on the **background-only**
  image (``bg_only``) of a random training image of the **other** class (flipped on its own),
  with the co-object (image x ``coobj_mask``, jointly flipped) of a random image of the **same**
  class;
- **2, CoObj Aug**: the background of a same-class image and the co-object of an other-class one.

Composite = ``car * m_car + (coobj * m_co + bg * (1 - m_co)) * (1 - m_car)``, then normalised.
Since 95% of training images are aligned, an other-class source brings a conflicting background
or co-object 95% of the time: the shifts are nearly counterfactual without any shortcut label;
they need only the class labels and the masks the generator (or the converter) stores.

Here the composites are made per sample on the CPU in ``[0, 1]`` before normalisation (the
official composes normalised tensors on the GPU: the same result, as normalisation is affine per
channel and the masks sum to one). The background of both shifts is the partner's ``bg_only``
image. Randomness (partners, flips) comes from torch's global generator, which the training
loop seeds per epoch, so a run is reproducible. Where the training set keeps its images in memory
(``cache_images``), each resized layer (image, masks, background) is kept too: one resize per
image and member per run, not one per draw.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torchvision.transforms.functional as TF
from torch.utils.data import Dataset

ORIGINAL, BG_AUG, COOBJ_AUG = 0, 1, 2
SHIFT_NAMES = ("original", "bg_aug", "coobj_aug")
MEMBERS = ("car_mask", "coobj_mask", "bg_only")


class UrbanCarsShifts(Dataset):
    """``3 N`` samples ``(x, y)``: index ``j`` is shift ``j // N`` of training image ``j % N``.

    ``base`` is the training set with the train transform (shift 0 comes from it unchanged); it
    must also give the decoded image and its extra members by index (``image(i)``,
    ``extra(i, name)``: :class:`vlmbias.shards.dataset.ShardImageDataset`)."""

    def __init__(self, base: Dataset, labels: Sequence[int], size: int, mean: Sequence[float],
                 std: Sequence[float], hflip: float = 0.5):
        for attr in ("image", "extra"):
            if not callable(getattr(base, attr, None)):
                raise TypeError(f"UrbanCarsShifts: the training set ({type(base).__name__}) has no {attr}(i); "
                                "LLE needs the images with their car_mask, coobj_mask and bg_only members")
        self.base, self.size, self.hflip = base, int(size), float(hflip)
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)
        self.n = len(self.labels)
        if self.n != len(base):
            raise ValueError(f"UrbanCarsShifts: {self.n} labels for {len(base)} training images")
        self.pools = {int(c): torch.nonzero(self.labels == c).flatten() for c in self.labels.unique()}
        self.others = {c: torch.nonzero(self.labels != c).flatten() for c in self.pools}
        if len(self.pools) < 2:
            raise ValueError("UrbanCarsShifts: the training set has one class; BG and CoObj Aug need two")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self._memo: dict[tuple[int, str], torch.Tensor] | None = {} if getattr(base, "caches_images", False) else None

    def __len__(self) -> int:
        return 3 * self.n

    def shift_of(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(idx) // self.n

    def _partner(self, label: int, same: bool) -> int:
        pool = self.pools[label] if same else self.others[label]
        return int(pool[torch.randint(len(pool), ())])

    def _tensor(self, img, mask: bool = False) -> torch.Tensor:
        interp = TF.InterpolationMode.BILINEAR if mask else TF.InterpolationMode.BICUBIC
        t = TF.to_tensor(TF.resize(img.convert("L" if mask else "RGB"), [self.size, self.size],
                                   interpolation=interp, antialias=True))
        return t.clamp(0, 1)

    def _layer(self, i: int, member: str) -> torch.Tensor:
        """Image ``i`` (``member`` "image") or one of its extra members, resized, in ``[0, 1]``
        (kept when the training set keeps its images; never written into: flips copy)."""
        if self._memo is not None and (i, member) in self._memo:
            return self._memo[(i, member)]
        t = (self._tensor(self.base.image(i)) if member == "image"
             else self._tensor(self.base.extra(i, member), mask=member.endswith("mask")))
        if self._memo is not None:
            self._memo[(i, member)] = t
        return t

    def _flip(self, *ts: torch.Tensor) -> list[torch.Tensor]:
        """The same random horizontal flip on every tensor given (an image and its mask)."""
        if float(torch.rand(())) < self.hflip:
            return [t.flip(-1) for t in ts]
        return list(ts)

    def layers(self, i: int, shift: int) -> dict[str, torch.Tensor]:
        """The composite's sources for image ``i`` under ``shift`` (1 or 2), in ``[0, 1]``."""
        y = int(self.labels[i])
        bg_src = self._partner(y, same=shift == COOBJ_AUG)
        co_src = self._partner(y, same=shift == BG_AUG)
        car, m_car = self._flip(self._layer(i, "image"), self._layer(i, "car_mask"))
        (bg,) = self._flip(self._layer(bg_src, "bg_only"))
        co, m_co = self._flip(self._layer(co_src, "image"), self._layer(co_src, "coobj_mask"))
        return {"car": car, "m_car": m_car, "bg": bg, "coobj": co, "m_co": m_co,
                "bg_src": bg_src, "coobj_src": co_src}

    @staticmethod
    def compose(car, m_car, bg, coobj, m_co) -> torch.Tensor:
        return car * m_car + (coobj * m_co + bg * (1 - m_co)) * (1 - m_car)

    def __getitem__(self, j: int):
        shift, i = divmod(int(j), self.n)
        if shift == ORIGINAL:
            return self.base[i]
        L = self.layers(i, shift)
        x = self.compose(L["car"], L["m_car"], L["bg"], L["coobj"], L["m_co"])
        return (x - self.mean) / self.std, int(self.labels[i])

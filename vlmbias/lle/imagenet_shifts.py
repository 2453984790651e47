"""The training data of last-layer retraining on ImageNet (official ``imagenet_trainers/lle.py``
and the single-augmentation baselines; research notes §3.2, §3.4): blocks of samples, one per
distribution shift, concatenated, of which every epoch draws |original| samples uniformly
without replacement (the official ``WeightedRandomSampler`` with uniform weights).

Blocks (``BLOCKS``), each with the run's train transform (RandomResizedCrop + flip):

- ``original``: the training images;
- ``texture`` ("TXT Aug"): the stylised training images (Stylized-ImageNet; the toy's
  ``train_stylized`` split);
- ``background`` ("BG Aug", :class:`BackgroundSwap`): the image's object (the image and its
  ``fg_mask``, one joint RandomResizedCrop + flip) pasted on the ``bg_only`` of a random
  training image of a **different** class (its own crop and flip): ``fg * m + bg * (1 - m)``,
  the official ``ImageNetSal`` mixed-rand composite;
- ``watermark`` ("WTM Aug"): the training images with ``RandomWatermark`` (8 random CJK
  characters, after the crop, before normalisation) with probability ``watermark_p``: 1 in LLE,
  0.5 in the WTM Aug baseline.

A method (``imagenet_methods.yaml``) lists its blocks and the head each block trains: LLE's four
blocks train four heads, a single-head baseline's blocks all train head 0.
"""

from __future__ import annotations

import bisect
from typing import Callable, Mapping, Sequence

import torch
import torchvision.transforms.functional as TF
from torch.utils.data import ConcatDataset, Dataset
from torchvision import transforms as T

from vlmbias.lle.watermark import RandomWatermark, watermarked

BLOCKS = ("original", "texture", "background", "watermark")


class BackgroundSwap(Dataset):
    """``(x, y)``: training image ``i``'s object on another class's background (module doc).
    ``base`` gives ``image(i)`` and ``extra(i, name)`` (``ShardImageDataset``); ``labels`` its
    classes. Random draws (partner, crops, flips) come from torch's global generator, which the
    training loop seeds per epoch."""

    def __init__(self, base: Dataset, labels: Sequence[int], size: int, scale: Sequence[float],
                 ratio: Sequence[float], hflip: float, mean: Sequence[float], std: Sequence[float],
                 mask_member: str = "fg_mask", bg_member: str = "bg_only"):
        for attr in ("image", "extra"):
            if not callable(getattr(base, attr, None)):
                raise TypeError(f"BackgroundSwap: the training set ({type(base).__name__}) has no {attr}(i); "
                                f"BG Aug needs the images with their {mask_member} and {bg_member} members")
        self.base, self.size, self.hflip = base, int(size), float(hflip)
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.mask_member, self.bg_member = mask_member, bg_member
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)
        if len(self.labels) != len(base):
            raise ValueError(f"BackgroundSwap: {len(self.labels)} labels for {len(base)} training images")
        self.others = {int(c): torch.nonzero(self.labels != c).flatten() for c in self.labels.unique()}
        if any(len(v) == 0 for v in self.others.values()):
            raise ValueError("BackgroundSwap: the training set has one class; BG Aug needs two")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def _crop(self, *imgs, mask_last: bool = False) -> list[torch.Tensor]:
        """One RandomResizedCrop + flip draw applied to every image given (an image and its mask)."""
        i, j, h, w = T.RandomResizedCrop.get_params(imgs[0], self.scale, self.ratio)
        flip = float(torch.rand(())) < self.hflip
        out = []
        for k, img in enumerate(imgs):
            is_mask = mask_last and k == len(imgs) - 1
            interp = TF.InterpolationMode.BILINEAR if is_mask else TF.InterpolationMode.BICUBIC
            t = TF.to_tensor(TF.resized_crop(img.convert("L" if is_mask else "RGB"), i, j, h, w,
                                             [self.size, self.size], interpolation=interp, antialias=True))
            out.append((t.flip(-1) if flip else t).clamp(0, 1))
        return out

    def layers(self, i: int) -> dict:
        y = int(self.labels[i])
        pool = self.others[y]
        src = int(pool[torch.randint(len(pool), ())])
        fg, m = self._crop(self.base.image(i), self.base.extra(i, self.mask_member), mask_last=True)
        (bg,) = self._crop(self.base.extra(src, self.bg_member))
        return {"fg": fg, "mask": m, "bg": bg, "bg_src": src}

    def __getitem__(self, i: int):
        L = self.layers(int(i))
        x = L["fg"] * L["mask"] + L["bg"] * (1 - L["mask"])
        return (x - self.mean) / self.std, int(self.labels[i])


class ShiftBlocks(Dataset):
    """The concatenation of a method's blocks; ``shift_of(idx)`` is the head of each index's
    block (the LLE objective's shift label)."""

    def __init__(self, blocks: Sequence[tuple[str, Dataset]], heads: Sequence[int]):
        if not blocks or len(blocks) != len(heads):
            raise ValueError(f"ShiftBlocks: {len(blocks)} blocks for {len(heads)} heads")
        self.names = [n for n, _ in blocks]
        self.heads = [int(h) for h in heads]
        self.data = ConcatDataset([d for _, d in blocks])
        self.ends = list(self.data.cumulative_sizes)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, j: int):
        return self.data[j]

    def block_of(self, j: int) -> int:
        return bisect.bisect_right(self.ends, int(j))

    def shift_of(self, idx) -> torch.Tensor:
        idx = torch.as_tensor(idx).flatten().tolist()
        return torch.tensor([self.heads[self.block_of(j)] for j in idx], dtype=torch.long)

    def sizes(self) -> dict[str, int]:
        starts = [0] + self.ends[:-1]
        return {n: e - s for n, s, e in zip(self.names, starts, self.ends)}


def build_blocks(names: Sequence[str], make: Mapping[str, Callable[[], Dataset]]) -> list[tuple[str, Dataset]]:
    """The blocks named (``BLOCKS``), each made by its factory in ``make``."""
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        raise ValueError(f"unknown shift blocks {unknown}; known: {list(BLOCKS)}")
    return [(n, make[n]()) for n in names]


def watermark_transform(train_tf: Callable, input_size: int, p: float) -> Callable:
    """The train transform with WTM Aug's random watermark (probability ``p``) after the crop."""
    return watermarked(train_tf, RandomWatermark(input_size, p=p))

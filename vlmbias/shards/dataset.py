"""Map-style datasets over sampled shards.

The sampler's index parquet records, for every sampled image, the tar it was written to and
the byte offset and size of the image member. A training run therefore reads images by random
access (no per-epoch tar streaming, exact seeded shuffling, exact resume), and a small sample
(the toy world) is simply held in memory as encoded bytes. A sample's extra members (e.g. the
UrbanCars-like ``KEY.car_mask.png``) are found by one header scan of its tar
(:meth:`ShardImageDataset.extra`).
"""

from __future__ import annotations

import copy

import os
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms as T

from vlmbias.shards.reader import BadInputCounter, ShardError, decode_image, read_member, scan_shard
from vlmbias.shards.sampler import load_index, split_frame


# Steps that draw no random numbers and depend on nothing but their input (exact types: a
# subclass may add randomness).
_DETERMINISTIC = {f"torchvision.transforms.transforms.{n}"
                  for n in ("Resize", "CenterCrop", "ToTensor", "PILToTensor", "Normalize", "ConvertImageDtype")}
_DETERMINISTIC |= {"timm.data.transforms.MaybeToTensor", "timm.data.transforms.MaybePILToTensor"}


def deterministic_prefix(transform: Callable | None) -> tuple[Callable | None, Callable | None]:
    """(prefix, rest) of a transform: for a ``Compose`` (torchvision's or a subclass), its
    leading run of deterministic steps and the steps after it, each a ``Compose`` or None where
    empty; any other transform is all rest."""
    steps = getattr(transform, "transforms", None)
    if not isinstance(transform, T.Compose) or not isinstance(steps, list):
        return None, transform
    n = 0
    while n < len(steps) and f"{type(steps[n]).__module__}.{type(steps[n]).__qualname__}" in _DETERMINISTIC:
        n += 1
    if not n:
        return None, transform
    return T.Compose(steps[:n]), (T.Compose(steps[n:]) if n < len(steps) else None)


@dataclass(frozen=True)
class ImageRecord:
    path: str      # absolute tar path
    offset: int
    size: int
    label: int


def records_for(views: Sequence[dict], sample_dirs: Mapping[str, str], split: str,
                n: int | None = None) -> list[ImageRecord]:
    """Records of one split for a dataset-classification run: the label of an image is the
    index of its view in ``views``. A view is a whole sampled dataset (``part`` None) or the
    images of it whose rank is ``part`` mod ``parts`` (disjoint pseudo-datasets of one source);
    ``n`` takes the first n of each view by rank (a seeded random order)."""
    out: list[ImageRecord] = []
    for label, v in enumerate(views):
        d = sample_dirs[v["dataset"]]
        frame = split_frame(load_index(d), split)
        if v.get("parts"):
            frame = frame[frame["rank"] % v["parts"] == v["part"]]
        if n is not None:
            if n > len(frame):
                raise ShardError(f"{v['dataset']}: {len(frame)} {split} images available for "
                                 f"view {v}, {n} asked for; sample it with a larger n_{split}")
            frame = frame.iloc[:n]
        out += [ImageRecord(os.path.join(d, r.shard), int(r.offset), int(r.size), label)
                for r in frame.itertuples(index=False)]
    return out


def labeled_split(sample_dir: str, split: str, limit: int | None = None,
                  require_labels: bool = True) -> tuple[list[ImageRecord], pd.DataFrame]:
    """The images of one split of a sampled (labeled) dataset, in rank order: records whose
    label is the image's json ``label``, and their index rows. ``limit`` keeps the first ones.
    An image without a label is an error naming the folder (``require_labels``), else label -1;
    a split with no images is an error naming the splits there are."""
    index = load_index(sample_dir)
    if not (index["split"] == split).any():
        raise ShardError(f"{sample_dir}: no {split!r} images in index.parquet "
                         f"(splits there: {sorted(index['split'].unique())})")
    rows = split_frame(index, split)
    if limit:
        rows = rows.iloc[:limit].reset_index(drop=True)
    missing = rows["label"].isna()
    if require_labels and missing.any():
        raise ShardError(f"{sample_dir} {split}: {int(missing.sum())} images have no integer 'label' "
                         "in their json metadata; a labeled task needs one")
    labels = rows["label"].fillna(-1).astype(int).tolist()
    records = [ImageRecord(os.path.join(sample_dir, r.shard), int(r.offset), int(r.size), label)
               for r, label in zip(rows.itertuples(index=False), labels)]
    return records, rows


def seeded_draw(fn: Callable, img, seed: int, index: int):
    """``fn(img)`` with torch's random state seeded from (``seed``, ``index``) and restored after:
    a random transform's fixed draw for image ``index`` (a validation set's corruption)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed * 1_000_003 + index)
        return fn(img)


class ShardImageDataset(Dataset):
    """Images read by offset from sampled tars, decoded with the project's one decoder.

    ``cache_images`` keeps each decoded image in memory after its first read (worth it when the
    whole sample fits, as in the toy world: a training run then decodes every image once, not
    once per epoch). Cached images are shared, never modified: every transform returns a new one. ``pre_transform`` runs on the decoded PIL image
    before ``transform`` (corruptions that must hit train and val alike); with
    ``pre_transform_seed`` its randomness is fixed per image (validation sets).
    ``cache_outputs`` keeps each transformed item too, for a deterministic transform (an
    evaluation set evaluated after every epoch): the resize and normalisation run once per image.
    With ``cache_images`` (and no unseeded ``pre_transform``), the leading run of deterministic
    steps of a ``Compose`` transform (:func:`deterministic_prefix`: resize, centre crop, to
    tensor, normalise) is kept per image too, so each epoch runs only the random rest (the flip
    of a flip-only recipe, ``vlmbias.train.recipe.train_transform``): the same items, computed once.
    """

    def __init__(self, records: Sequence[ImageRecord], transform: Callable | None,
                 cache_images: bool = False, pre_transform: Callable | None = None,
                 pre_transform_seed: int | None = None, cache_outputs: bool = False):
        self.records = list(records)
        self.transform = transform
        self.pre_transform = pre_transform
        self.pre_transform_seed = pre_transform_seed
        if cache_outputs and pre_transform is not None and pre_transform_seed is None:
            raise ValueError("cache_outputs needs a deterministic pipeline: a random pre_transform without "
                             "pre_transform_seed would be frozen at its first draw")
        self._outputs: dict[int, object] | None = {} if cache_outputs else None
        self._set_prefix(cache_images)
        self._cache: dict[int, Image.Image] | None = {} if cache_images else None
        self._extra_cache: dict[tuple[int, str], Image.Image] | None = {} if cache_images else None
        self._members: dict[str, dict[int, tuple[str, dict]]] = {}  # tar -> image offset -> (key, members)

    def __len__(self) -> int:
        return len(self.records)

    def with_transform(self, transform: Callable | None) -> "ShardImageDataset":
        """The same images under another transform, sharing this dataset's decode caches (one
        decode per image however many views a run takes of it)."""
        view = copy.copy(self)
        view.transform = transform
        view._outputs = None  # another transform: the outputs and prefix caches are this dataset's own
        view._set_prefix(self.caches_images)
        return view

    def _set_prefix(self, cache_images: bool) -> None:
        """Split the transform for the per-image cache of its deterministic prefix, where the
        input of that prefix is the same every epoch (images cached; no unseeded pre_transform)."""
        prefix, rest = deterministic_prefix(self.transform)
        fixed = self.pre_transform is None or self.pre_transform_seed is not None
        use = cache_images and fixed and prefix is not None and self._outputs is None  # (outputs cached whole)
        self._prefix, self._rest = (prefix, rest) if use else (None, None)
        self._prefix_out: dict[int, object] = {}

    @property
    def caches_images(self) -> bool:
        """Whether decoded images are kept in memory (``cache_images``)."""
        return self._cache is not None

    def raw(self, i: int) -> bytes:
        r = self.records[i]
        return read_member(r.path, r.offset, r.size)

    def image(self, i: int) -> Image.Image:
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        img = decode_image(self.raw(i))
        if self._cache is not None:
            self._cache[i] = img
        return img

    def extra(self, i: int, name: str) -> Image.Image:
        """Extra member ``name`` of image ``i``'s sample, decoded in its stored mode (a mask: "L").
        ``name`` is the member's extension, with or without its image extension: ``"car_mask.png"``
        or ``"car_mask"``. A missing member is an error naming the sample and its members."""
        if self._extra_cache is not None and (i, name) in self._extra_cache:
            return self._extra_cache[(i, name)]
        r = self.records[i]
        if r.path not in self._members:  # one header scan per tar
            self._members[r.path] = {ref.members[ref.image_ext][0]: (ref.key, ref.members)
                                     for ref in scan_shard(r.path, BadInputCounter(), read_json=False)}
        key, members = self._members[r.path].get(r.offset, (None, {}))
        ext = name if name in members else next((e for e in members if e.rsplit(".", 1)[0] == name), None)
        if key is None or ext is None:
            raise ShardError(f"{r.path}: sample {key or f'at offset {r.offset}'} has no member {name!r} "
                             f"(members: {sorted(members)})")
        img = decode_image(read_member(r.path, *members[ext]), mode=None)
        if self._extra_cache is not None:
            self._extra_cache[(i, name)] = img
        return img

    def __getitem__(self, i: int):
        if self._outputs is not None and i in self._outputs:
            return self._outputs[i], self.records[i].label
        if self._prefix is not None and i in self._prefix_out:
            x = self._after_prefix(self._prefix_out[i])
        else:
            img = self.image(i)
            if self.pre_transform is not None:
                if self.pre_transform_seed is None:
                    img = self.pre_transform(img)
                else:  # a fixed draw per image (validation sets)
                    img = seeded_draw(self.pre_transform, img, self.pre_transform_seed, i)
            if self._prefix is not None:
                self._prefix_out[i] = self._prefix(img)
                x = self._after_prefix(self._prefix_out[i])
            else:
                x = self.transform(img) if self.transform is not None else img
        if self._outputs is not None:
            self._outputs[i] = x
        return x, self.records[i].label

    def _after_prefix(self, cached):
        x = self._rest(cached) if self._rest is not None else cached
        # the cached tensor itself never leaves (a caller may write into an item)
        return x.clone() if x is cached and isinstance(x, torch.Tensor) else x

    def labels(self) -> torch.Tensor:
        return torch.tensor([r.label for r in self.records], dtype=torch.long)

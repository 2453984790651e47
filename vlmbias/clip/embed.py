"""The image-embedding cache: per (CLIP model, dataset, split), computed once, read by every
CLIP family (PerceptionCLIP, B2T, ...). Writing goes through ``vlmbias.core.io.save_npz``.

File ``results/embeddings/<model>/<dataset>/<split>.npz`` (rule ``embed_clip``), arrays:

* ``features`` float32 [N, D]: ``model.encode_image(preprocess(image))``, NOT normalised
  (:func:`load_embeddings` normalises unless asked not to);
* ``labels`` int64 [N]: the json ``label`` of the sampled image, -1 where there is none;
* ``keys`` str [N]: the sample keys (``<dataset>-<split>-<rank>``), in rank order;
* ``metadata`` str [N]: the source json of every image (group attributes: ``place``, ``gender``...);
* ``info`` str []: json with model name, architecture, weights, dataset, split, embed dim.

Written without timestamps (fixed zip member dates), so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vlmbias.clip.load import ClipBundle
from vlmbias.clip.preprocess import transform
from vlmbias.clip.spec import ClipError
from vlmbias.core.io import save_npz
from vlmbias.shards.dataset import ShardImageDataset, labeled_split


@torch.no_grad()
def encode_images(bundle: ClipBundle, dataset: Dataset, batch_size: int = 256, num_workers: int = 0,
                  normalize: bool = False) -> torch.Tensor:
    """``encode_image`` of every item of ``dataset`` (items ``(image tensor, anything)``), in
    order, fp32 on the CPU."""
    bundle.model.eval()
    out = []
    for x, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers):
        out.append(bundle.model.encode_image(x.to(bundle.device), normalize=normalize).float().cpu())
    if not out:
        raise ClipError("no images to encode")
    return torch.cat(out)


@dataclass
class Embeddings:
    """A cached split: features [N, D] (L2-normalised unless loaded with normalize=False),
    labels [N] (-1: none), keys, metadata (list of dicts) and info (dict)."""

    features: torch.Tensor
    labels: torch.Tensor
    keys: list[str]
    metadata: list[dict]
    info: dict

    def __len__(self) -> int:
        return len(self.keys)

    def attribute(self, name: str) -> list:
        """One json attribute of every image (None where absent), e.g. ``place`` or ``gender``."""
        return [m.get(name) for m in self.metadata]


@torch.no_grad()
def embed_split(bundle: ClipBundle, sample_dir: str, dataset: str, split: str, out_path: str,
                batch_size: int = 256, preprocess: str = "clip") -> dict:
    """Embed every image of one split of a sampled dataset and write the cache file; ``preprocess``
    names the image transform (``vlmbias.clip.preprocess``: the model's own by default)."""
    records, rows = labeled_split(sample_dir, split, require_labels=False)
    ds = ShardImageDataset(records, transform(preprocess, bundle))
    feats = encode_images(bundle, ds, batch_size=batch_size)
    info = {"model": bundle.name, "open_clip": bundle.arch, "weights": bundle.weights, "dataset": dataset,
            "split": split, "preprocess": preprocess, "n": int(len(rows)), "dim": int(feats.shape[1]), "normalized": False,
            "image_size": bundle.image_size}
    save_npz(out_path, {
        "features": feats.numpy().astype(np.float32),
        "labels": ds.labels().numpy().astype(np.int64),
        "keys": np.array(rows["key"].astype(str).tolist(), dtype=str),
        "metadata": np.array(rows["metadata"].astype(str).tolist(), dtype=str),
        "info": np.array(json.dumps(info, sort_keys=True)),
    })
    return info


def load_embeddings(path: str, normalize: bool = True) -> Embeddings:
    """Read a cache file written by :func:`embed_split`."""
    if not os.path.isfile(path):
        raise ClipError(f"embedding file {path} does not exist (rule embed_clip writes it)")
    with np.load(path, allow_pickle=False) as z:
        missing = {"features", "labels", "keys", "metadata", "info"} - set(z.files)
        if missing:
            raise ClipError(f"{path}: not an embedding cache file (missing {sorted(missing)})")
        feats = torch.from_numpy(z["features"].astype(np.float32))
        labels = torch.from_numpy(z["labels"].astype(np.int64))
        keys = [str(k) for k in z["keys"]]
        metadata = [json.loads(str(m)) for m in z["metadata"]]
        info = json.loads(str(z["info"]))
    if normalize:
        feats = torch.nn.functional.normalize(feats, dim=-1)
    return Embeddings(feats, labels, keys, metadata, info)



__all__ = ["Embeddings", "embed_split", "encode_images", "load_embeddings"]

"""The image-embedding cache: per (CLIP model, dataset, split), computed once, read by every
CLIP family (PerceptionCLIP, B2T, ...).

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

import io
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from vlmbias.clip import ClipBundle, ClipError, encode_images, labeled_images

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def save_npz(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez``-compatible file with fixed member dates (byte-reproducible), written atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    os.replace(tmp, path)


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
                batch_size: int = 256) -> dict:
    """Embed every image of one split of a sampled dataset and write the cache file."""
    ds, rows = labeled_images(sample_dir, split, bundle.preprocess)
    feats = encode_images(bundle, ds, batch_size=batch_size)
    info = {"model": bundle.name, "open_clip": bundle.arch, "weights": bundle.weights, "dataset": dataset,
            "split": split, "n": int(len(rows)), "dim": int(feats.shape[1]), "normalized": False,
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




def zero_shot_from_cache(bundle: ClipBundle, path: str, classnames, template_list) -> dict:
    """Zero-shot accuracy of a model from its cached image embeddings of a labeled split."""
    from vlmbias.clip import zero_shot_accuracy, zero_shot_weights

    emb = load_embeddings(path)
    if (emb.labels < 0).any():
        raise ClipError(f"{path}: {int((emb.labels < 0).sum())} images without an integer label")
    return zero_shot_accuracy(emb.features, emb.labels, zero_shot_weights(bundle, classnames, template_list).cpu())


__all__ = ["Embeddings", "embed_split", "load_embeddings", "save_npz", "zero_shot_from_cache"]

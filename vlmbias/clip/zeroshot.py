"""Zero-shot classification with a CLIP: the classifier from class names x prompt templates
(open_clip's ``build_zero_shot_classifier``), text embeddings, and accuracy from image features
(the embedding cache, ``vlmbias.clip.embed``, or a sampled split directly)."""

from __future__ import annotations

from typing import Sequence

import open_clip
import torch

from vlmbias.clip.embed import encode_images, load_embeddings
from vlmbias.clip.load import ClipBundle
from vlmbias.clip.spec import ClipError
from vlmbias.shards.dataset import ShardImageDataset, labeled_split


@torch.no_grad()
def zero_shot_weights(bundle: ClipBundle, classnames: Sequence[str], template_list: Sequence) -> torch.Tensor:
    """Zero-shot classifier [D, K] (fp32, on the bundle's device): per class, the mean of the
    L2-normalised text embeddings of its prompts, renormalised (open_clip's
    ``build_zero_shot_classifier``)."""
    if not classnames or not template_list:
        raise ClipError("zero_shot_weights needs at least one class name and one template")
    bundle.model.eval()
    w = open_clip.build_zero_shot_classifier(bundle.model, bundle.tokenizer, list(classnames),
                                             list(template_list), num_classes_per_batch=10,
                                             device=bundle.device)
    return w.float()


@torch.no_grad()
def encode_texts(bundle: ClipBundle, texts: Sequence[str], batch_size: int = 512) -> torch.Tensor:
    """L2-normalised text embeddings [N, D] (fp32, on the CPU), in order."""
    out = []
    for s in range(0, len(texts), batch_size):
        tok = bundle.tokenizer(list(texts[s:s + batch_size])).to(bundle.device)
        out.append(torch.nn.functional.normalize(bundle.model.encode_text(tok).float(), dim=-1).cpu())
    return torch.cat(out)


def zero_shot_accuracy(features: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> dict:
    """Top-1 / top-5 accuracy (%) of ``argmax(normalize(features) @ weights)``, per class and
    overall, with the chance level (100 / K)."""
    features = torch.nn.functional.normalize(features.float(), dim=-1)
    logits = features @ weights.to(features.device, torch.float32)
    labels = labels.long()
    k = weights.shape[1]
    if len(labels) == 0:
        raise ClipError("zero-shot evaluation on an empty set")
    if int(labels.min()) < 0 or int(labels.max()) >= k:
        raise ClipError(f"labels outside [0, {k}) in the zero-shot evaluation set")
    pred = logits.argmax(1)
    top5 = logits.topk(min(5, k), dim=1).indices
    conf = torch.bincount(labels * k + pred, minlength=k * k).view(k, k)
    per_class = (conf.diag().double() / conf.sum(1).clamp(min=1).double() * 100).tolist()
    return {"top1": float((pred == labels).double().mean() * 100),
            "top5": float((top5 == labels[:, None]).any(1).double().mean() * 100),
            "chance": 100.0 / k, "n": int(len(labels)), "n_classes": int(k),
            "per_class_top1": per_class, "confusion": conf.tolist()}


def evaluate_zero_shot(bundle: ClipBundle, sample_dir: str, split: str, classnames: Sequence[str],
                       template_list: Sequence, batch_size: int = 256) -> dict:
    """Zero-shot accuracy of a bundle on one split of a labeled sampled dataset."""
    records, _ = labeled_split(sample_dir, split)
    ds = ShardImageDataset(records, bundle.preprocess)
    labels = ds.labels()
    feats = encode_images(bundle, ds, batch_size=batch_size)
    return zero_shot_accuracy(feats, labels, zero_shot_weights(bundle, classnames, template_list).cpu())


def zero_shot_from_cache(bundle: ClipBundle, path: str, classnames, template_list) -> dict:
    """Zero-shot accuracy of a model from its cached image embeddings of a labeled split."""
    emb = load_embeddings(path)
    if (emb.labels < 0).any():
        raise ClipError(f"{path}: {int((emb.labels < 0).sum())} images without an integer label")
    return zero_shot_accuracy(emb.features, emb.labels, zero_shot_weights(bundle, classnames, template_list).cpu())

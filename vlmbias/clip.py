"""The one CLIP loader of the project, zero-shot classifiers, and the toy CLIP's training.

Every CLIP-based family (TextSpan, B2T, PerceptionCLIP, LLE) gets its model from
:func:`load_clip`, with a model *spec* from the config's ``clip.models`` section:

* ``{open_clip: ViT-B-16, pretrained: laion2b_s34b_b88k}`` -- an open_clip architecture with a
  pretrained tag (open_clip downloads or finds the weights in its cache);
* ``{open_clip: ViT-B-16, checkpoint: /path/to/weights.pt}`` -- a local checkpoint file
  (anything open_clip's ``load_checkpoint`` reads: a state dict, ``{"state_dict": ...}``,
  safetensors);
* ``{open_clip: vlmbias-toy-vit, train: {...}}`` -- a model trained in the workflow
  (rule ``train_clip``); its checkpoint ``results/clip/<name>/model.pt`` is passed as
  ``checkpoint=``;
* ``{open_clip: ViT-B-16}`` (or ``pretrained: null``) -- randomly initialised (tests, benchmarks).

The toy architectures are open_clip model configs shipped as JSON under
``vlmbias/data/open_clip/`` and registered with ``open_clip.add_model_config`` on import, so
``open_clip.create_model("vlmbias-toy-vit")`` works like any built-in name. Nothing of open_clip
is copied: models, transforms, tokenizers, ``ClipLoss``, the OpenAI ImageNet templates and
class names, and ``build_zero_shot_classifier`` are open_clip's own.

The toy CLIP trains through the project's one training loop, ``vlmbias.train.fit``, with
open_clip's ``ClipLoss`` as the pluggable loss (:func:`clip_loss`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import open_clip

from vlmbias.clip_config import (CLIP_RECIPE_DEFAULTS, MODEL_CONFIG_DIR, SPEC_KEYS,  # noqa: F401
                                 TEMPLATE_SET_NAMES, TOY_ARCHS, TRAIN_KEYS, ClipError, check_config,
                                 check_spec, class_names, clip_recipe, clip_section,
                                 dataset_split_names, embed_jobs)

# Prompt templates for the toy world: the caption grammar of its ImageNet-like source, every object
# colour x background ("a photo of a red {} on grass"), built from the toy world's vocabulary. A
# tiny text tower trained on such captions places "a photo of a ball" (no colour, no background)
# off its caption distribution: measured on the default toy CLIP, 26% zero-shot with that single
# template, 42% with this ensemble (nearest class mean of the image features: 44%).
def _toy_templates() -> tuple[str, ...]:
    from vlmbias import toyworld

    return tuple(toyworld.object_caption_templates())


TOY_TEMPLATES = _toy_templates()
TEMPLATE_SETS: dict[str, tuple] = {
    "openai_imagenet": open_clip.OPENAI_IMAGENET_TEMPLATES,   # the 80 CLIP ImageNet templates
    "simple_imagenet": open_clip.SIMPLE_IMAGENET_TEMPLATES,
    "toy": TOY_TEMPLATES,
}
assert tuple(TEMPLATE_SETS) == TEMPLATE_SET_NAMES  # clip_config checks config names against these


def register_model_configs() -> None:
    """Register the package's open_clip model configs (idempotent)."""
    if not all(a in open_clip.list_models() for a in TOY_ARCHS):
        open_clip.add_model_config(MODEL_CONFIG_DIR)


register_model_configs()


# ------------------------------------------------------------------------- specs and loading

@dataclass
class ClipBundle:
    """A loaded CLIP: ``model`` (eval mode, fp32, on ``device``), its eval ``preprocess``
    (PIL image -> tensor), its ``tokenizer`` (list of str -> LongTensor), ``name`` (the config
    name, or the architecture), ``arch`` (the open_clip name) and ``weights`` (where the
    weights came from: ``pretrained:<tag>``, ``checkpoint:<path>`` or ``random``)."""

    model: nn.Module
    preprocess: Callable
    tokenizer: Callable
    name: str
    arch: str
    weights: str
    device: torch.device
    spec: dict = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_projection.shape[1]) if hasattr(self.model, "text_projection") \
            else int(self.model.visual.output_dim)


def load_clip(spec: Mapping, checkpoint: str | os.PathLike | None = None, device: str | torch.device = "cpu",
              name: str | None = None) -> ClipBundle:
    """Build the CLIP a spec names (see the module doc); ``checkpoint`` overrides the spec's
    weight source (used for models trained in the workflow). Returns a :class:`ClipBundle`."""
    where = f"clip model {name!r}" if name else "clip model"
    check_spec(spec, where)
    arch = spec["open_clip"]
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        if not os.path.isfile(checkpoint):
            raise ClipError(f"{where}: checkpoint {checkpoint} does not exist")
        pretrained, weights = checkpoint, f"checkpoint:{checkpoint}"
    elif spec.get("checkpoint"):
        pretrained, weights = spec["checkpoint"], f"checkpoint:{spec['checkpoint']}"
    elif spec.get("pretrained"):
        pretrained, weights = spec["pretrained"], f"pretrained:{spec['pretrained']}"
    elif spec.get("train"):
        raise ClipError(f"{where} is trained in the workflow (rule train_clip): pass its "
                        f"checkpoint results/clip/{name or '<name>'}/model.pt")
    else:
        pretrained, weights = None, "random"
    device = torch.device(device)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=pretrained, device=device, precision="fp32")
    except Exception as e:  # noqa: BLE001 - re-raised naming the spec and the weights
        raise ClipError(f"{where}: cannot build {arch} with weights {weights}: {e}") from e
    model.eval()
    return ClipBundle(model=model, preprocess=preprocess, tokenizer=open_clip.get_tokenizer(arch),
                      name=name or arch, arch=arch, weights=weights, device=device, spec=dict(spec))


def save_checkpoint(model: nn.Module, path: str, arch: str, info: Mapping | None = None) -> None:
    """Write ``{"state_dict", "open_clip", "info"}`` atomically: a file open_clip's own loader
    (``create_model(arch, pretrained=path)``) and :func:`load_clip` read (weights-only)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save({"state_dict": state, "open_clip": arch, "info": json.loads(json.dumps(info or {}))}, tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------------------- templates, classes

def templates(name: str) -> list:
    """A named template list: ``openai_imagenet`` (open_clip's 80 OpenAI ImageNet templates,
    callables), ``simple_imagenet`` (its 7-template subset), ``toy`` (format strings)."""
    try:
        return list(TEMPLATE_SETS[name])
    except KeyError:
        raise ClipError(f"unknown template set {name!r} (known: {sorted(TEMPLATE_SETS)})") from None


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


# ------------------------------------------------------------------------- toy CLIP training

#: open_clip's own training defaults (its ``params.py``: AdamW betas 0.9/0.98, eps 1e-6,
#: weight decay 0.2) in the project's recipe format; the config's ``train:`` overrides them.
def clip_loss(model: nn.Module, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's contrastive ``ClipLoss`` in ``train.fit``'s ``loss_fn(model, x, y)`` form.

    As open_clip's training loop, the learnable temperature is clamped to [0, ln 100] (done
    before each forward here, since ``fit`` has no post-step hook)."""
    with torch.no_grad():
        model.logit_scale.clamp_(0, math.log(100))
    image_features, text_features, logit_scale = model(images, tokens)[:3]
    return _CLIP_LOSS(image_features, text_features, logit_scale)


_CLIP_LOSS = open_clip.ClipLoss()


class CaptionPairs(Dataset):
    """(image tensor, caption tokens) pairs: images from a ``ShardImageDataset`` whose record
    labels index ``tokens`` (one row per caption)."""

    def __init__(self, images: Dataset, tokens: torch.Tensor):
        if len(images) != len(tokens):
            raise ClipError(f"{len(images)} images but {len(tokens)} captions")
        self.images, self.tokens = images, tokens

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        x, j = self.images[i]
        return x, self.tokens[j]


def caption_pairs(sample_dirs: Mapping[str, str], data: Mapping[str, Sequence[str]], tokenizer: Callable,
                  transform: Callable, cache_images: bool = True) -> tuple[CaptionPairs, dict]:
    """The image-caption pairs of ``data`` (dataset -> splits) from the sampled datasets in
    ``sample_dirs``; images without a caption are left out (and counted)."""
    from vlmbias.data import ImageRecord, ShardImageDataset
    from vlmbias.sampling import load_index

    records, captions, counts = [], [], {}
    for dataset, splits in data.items():
        if dataset not in sample_dirs:
            raise ClipError(f"clip train data: dataset {dataset!r} has no sample directory")
        d = sample_dirs[dataset]
        index = load_index(d)
        for split in splits:
            part = index[index["split"] == split].sort_values("rank", kind="stable")
            if part.empty:
                raise ClipError(f"clip train data: {dataset} has no {split!r} images in {d}/index.parquet "
                                f"(splits there: {sorted(index['split'].unique())})")
            has = part["caption"].notna() & (part["caption"].astype(str).str.len() > 0)
            for r in part[has].itertuples(index=False):
                records.append(ImageRecord(os.path.join(d, r.shard), int(r.offset), int(r.size), len(captions)))
                captions.append(str(r.caption))
            counts[f"{dataset}/{split}"] = {"pairs": int(has.sum()), "no_caption": int((~has).sum())}
    if not records:
        raise ClipError("clip train data: no image-caption pairs")
    tokens = tokenizer(captions)
    images = ShardImageDataset(records, transform, cache_images=cache_images)
    return CaptionPairs(images, tokens), counts


def labeled_images(sample_dir: str, split: str, transform: Callable, cache_images: bool = False):
    """(ShardImageDataset of the split's images in rank order, index rows) of a labeled dataset."""
    from vlmbias.data import ImageRecord, ShardImageDataset
    from vlmbias.sampling import load_index

    index = load_index(sample_dir)
    rows = index[index["split"] == split].sort_values("rank", kind="stable").reset_index(drop=True)
    if rows.empty:
        raise ClipError(f"{sample_dir}: no {split!r} images (splits: {sorted(index['split'].unique())})")
    labels = rows["label"].fillna(-1).astype(int).tolist()
    records = [ImageRecord(os.path.join(sample_dir, r.shard), int(r.offset), int(r.size), lab)
               for r, lab in zip(rows.itertuples(index=False), labels)]
    return ShardImageDataset(records, transform, cache_images=cache_images), rows


def evaluate_zero_shot(bundle: ClipBundle, sample_dir: str, split: str, classnames: Sequence[str],
                       template_list: Sequence, batch_size: int = 256) -> dict:
    """Zero-shot accuracy of a bundle on one split of a labeled sampled dataset."""
    ds, rows = labeled_images(sample_dir, split, bundle.preprocess)
    labels = ds.labels()
    if (labels < 0).any():
        raise ClipError(f"{sample_dir} {split}: {int((labels < 0).sum())} images without an integer label")
    feats = encode_images(bundle, ds, batch_size=batch_size)
    return zero_shot_accuracy(feats, labels, zero_shot_weights(bundle, classnames, template_list).cpu())


def train_clip(spec: Mapping, sample_dirs: Mapping[str, str], out_model: str, out_metrics: str,
               zero_shot: Mapping | None = None, seed: int = 0, name: str = "clip",
               log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Train a CLIP from scratch on image-caption pairs through ``train.fit`` with ``ClipLoss``.

    ``spec`` is a ``clip.models`` entry with a ``train`` block (see ``CLIP_RECIPE_DEFAULTS``);
    ``zero_shot`` = ``{"sample_dir", "split", "classnames", "templates"}`` evaluates the trained
    model zero-shot. Writes the checkpoint (``save_checkpoint`` format) and metrics.json;
    a ``checkpoint.pt`` beside the model lets a killed run resume."""
    from vlmbias.train import fit, pick_device, spec_hash

    check_spec(spec, f"clip model {name!r}")
    recipe = clip_recipe(spec["train"])
    arch = spec["open_clip"]
    device = pick_device(recipe.get("device", "auto"))
    torch.manual_seed(seed)
    model, train_tf, _ = open_clip.create_model_and_transforms(
        arch, pretrained=None, device="cpu", precision="fp32",
        aug_cfg={"scale": tuple(recipe["scale"])})
    tokenizer = open_clip.get_tokenizer(arch)
    pairs, counts = caption_pairs(sample_dirs, recipe["data"], tokenizer, train_tf,
                                  cache_images=bool(recipe.get("cache_images", True)))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{name}: {arch}, {n_params:,} parameters, {len(pairs)} image-caption pairs: {counts}")
    run_hash = spec_hash({"spec": dict(spec), "seed": seed, "data": counts})
    ckpt_path = os.path.join(os.path.dirname(os.path.abspath(out_model)), "checkpoint.pt")
    t0 = time.time()
    state = fit(model, pairs, 0, recipe, seed, ckpt_path, run_hash, device,
                num_workers=int(recipe.get("num_workers", 0)), progress=progress, log=log,
                loss_fn=clip_loss)
    train_s = time.time() - t0
    model.eval()
    metrics: dict[str, Any] = {
        "name": name, "open_clip": arch, "parameters": n_params, "pairs": len(pairs), "data": counts,
        "recipe": recipe, "spec_hash": run_hash, "seed": seed, "steps": state.step,
        "loss_curve": state.loss_curve, "epoch_loss": state.epoch_loss,
        "first_loss": state.loss_curve[0][1] if state.loss_curve else None,
        "final_loss": state.loss_curve[-1][1] if state.loss_curve else None,
        "logit_scale": float(model.logit_scale.detach().exp()),
    }
    save_checkpoint(model, out_model, arch, info={"name": name, "spec_hash": run_hash, "seed": seed})
    if zero_shot:
        bundle = load_clip(spec, checkpoint=out_model, device=device, name=name)
        zs = evaluate_zero_shot(bundle, zero_shot["sample_dir"], zero_shot["split"], zero_shot["classnames"],
                                zero_shot["templates"], batch_size=int(recipe.get("eval_batch_size", 256)))
        metrics["zero_shot"] = {"dataset": zero_shot.get("dataset"), "split": zero_shot["split"],
                                "classnames": list(zero_shot["classnames"]), **zs}
        log(f"{name}: zero-shot top-1 {zs['top1']:.2f}% (chance {zs['chance']:.2f}%) on "
            f"{zero_shot.get('dataset')} {zero_shot['split']} ({zs['n']} images)")
    metrics["run_info"] = {"train_s": train_s, "device": str(device), "resumed_from_epoch": state.resumed_from_epoch}
    with open(out_metrics, "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    if os.path.exists(ckpt_path):
        os.remove(ckpt_path)
    return metrics


__all__ = ["CLIP_RECIPE_DEFAULTS", "ClipBundle", "ClipError", "TEMPLATE_SETS", "TOY_ARCHS", "TOY_TEMPLATES",
           "caption_pairs", "check_spec", "class_names", "clip_loss", "clip_recipe", "encode_images",
           "evaluate_zero_shot", "labeled_images", "load_clip", "register_model_configs", "save_checkpoint",
           "templates", "train_clip", "zero_shot_accuracy", "zero_shot_weights"]

"""Contrastive pre-training of a CLIP in the workflow (the toy world's CLIP, rule ``train_clip``).

The model is an open_clip architecture built from scratch; it trains through the project's one
training loop, ``vlmbias.train.loop.fit``, with open_clip's ``ClipLoss`` as the objective
(:func:`clip_loss`) on image-caption pairs of sampled datasets (:func:`caption_pairs`).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Mapping, Sequence

import open_clip
import torch
from torch import nn
from torch.utils.data import Dataset

from vlmbias.clip.load import load_clip, save_checkpoint
from vlmbias.clip.spec import ClipError, check_spec, clip_recipe
from vlmbias.clip.zeroshot import evaluate_zero_shot
from vlmbias.core.device import pick_device
from vlmbias.core.io import spec_hash, write_json
from vlmbias.shards.dataset import ImageRecord, ShardImageDataset
from vlmbias.shards.sampler import load_index
from vlmbias.train.loop import finish_run, fit
from vlmbias.train.objectives import LossFunction


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


def train_clip(spec: Mapping, sample_dirs: Mapping[str, str], out_model: str, out_metrics: str,
               zero_shot: Mapping | None = None, seed: int = 0, name: str = "clip",
               log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Train a CLIP from scratch on image-caption pairs through ``train.fit`` with ``ClipLoss``.

    ``spec`` is a ``clip.models`` entry with a ``train`` block (see ``CLIP_RECIPE_DEFAULTS``);
    ``zero_shot`` = ``{"sample_dir", "split", "classnames", "templates"}`` evaluates the trained
    model zero-shot. Writes the checkpoint (``save_checkpoint`` format) and metrics.json;
    a ``checkpoint.pt`` beside the model lets a killed run resume."""
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
                objective=LossFunction(clip_loss, distributed=False))  # negatives: the batch
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
    write_json(out_metrics, metrics)
    finish_run(ckpt_path)
    return metrics

"""B2T's captioner as jobs: a toy ClipCap trained in the workflow on image-caption pairs (their
image embeddings from the shared cache of the captioner's CLIP), or the official Conceptual
Captions weights from a local file; and captions of a sampled split, computed once per
(captioner, dataset, split) into a file every later B2T job reads.

Caption quality (held-out pairs): the share of captions that name the image's true object,
bird kind or place (from its json metadata), reported beside the trained model.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from vlmbias.b2t import clipcap as C
from vlmbias.b2t.keywords import holds
from vlmbias.clip.embed import load_embeddings
from vlmbias.core.device import pick_device
from vlmbias.core.io import atomic_path, spec_hash, write_json
from vlmbias.shards.sampler import load_index
from vlmbias.train.loop import finish_run, fit
from vlmbias.train.objectives import LossFunction

#: metadata fields whose value a caption should name, and the words that name them
QUALITY_FIELDS = ("class_name", "bird", "place_name", "hair")


class CaptionPairs(Dataset):
    """(CLIP image embedding, [token ids; mask]) pairs for ``fit``."""

    def __init__(self, features: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor):
        self.features, self.tokens = features, torch.stack([ids, mask], dim=1)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int):
        return self.features[i], self.tokens[i]


def _caption_loss(model: C.ClipCaptionModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return model.loss(y[:, 0], x, y[:, 1])


def training_pairs(embedding_paths: Sequence[str], index_paths: Sequence[str]) -> tuple[torch.Tensor, list[str]]:
    """Image embeddings (unnormalised, as ClipCap trains) and captions (ending in ".") of the
    cached splits, matched by sample key; images without a caption are left out."""
    feats, caps = [], []
    captions = {}
    for path in index_paths:
        index = load_index(os.path.dirname(path))
        captions.update({k: c for k, c in zip(index["key"], index["caption"]) if isinstance(c, str) and c.strip()})
    for path in embedding_paths:
        emb = load_embeddings(path, normalize=False)
        keep = [i for i, k in enumerate(emb.keys) if k in captions]
        feats.append(emb.features[keep])
        caps += [captions[emb.keys[i]].strip().rstrip(".") + "." for i in keep]
    if not caps:
        raise ValueError("no image-caption pairs for the captioner")
    return torch.cat(feats), caps


def train(spec: Mapping, embedding_paths: Sequence[str], index_paths: Sequence[str], model_path: str,
          metrics_path: str, tokenizer_dir: str, holdout_embeddings: Sequence[str] = (), progress: bool = True,
          log: Callable[[str], None] = print) -> dict:
    """Train a toy ClipCap: a byte-level BPE on the captions, a small GPT-2 (``spec['gpt']``),
    the MLP mapping, through the one training loop; then caption the held-out splits and
    measure how often the captions name what the images show."""
    t0 = time.time()
    recipe = dict(spec["recipe"])
    feats, caps = training_pairs(embedding_paths, index_paths)
    tokenizer = C.train_tokenizer(caps, vocab_size=int(spec["vocab_size"]))
    enc = tokenizer(caps, padding=True, return_tensors="pt")
    torch.manual_seed(spec["seed"])
    gpt = {**spec["gpt"], "vocab_size": len(tokenizer),
           "n_positions": int(spec["prefix_length"]) + max(int(spec.get("max_tokens", 67)), enc["input_ids"].shape[1])}
    model = C.build(gpt, feats.shape[1], int(spec["prefix_length"]))
    device = pick_device(recipe.get("device", "auto"))
    ckpt = os.path.join(os.path.dirname(os.path.abspath(model_path)), "checkpoint.pt")
    state = fit(model, CaptionPairs(feats, enc["input_ids"], enc["attention_mask"]), 0, recipe, spec["seed"], ckpt,
                spec_hash(spec), device, progress=progress, log=log, objective=LossFunction(_caption_loss))
    with atomic_path(model_path) as tmp:
        torch.save(model.state_dict(), tmp)
    tokenizer.save_pretrained(tokenizer_dir)
    quality = {os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p)[:-4]:
               caption_quality(model, tokenizer, load_embeddings(p, normalize=False), spec.get("max_tokens", 67))
               for p in holdout_embeddings}
    metrics = {"pairs": len(caps), "vocab": len(tokenizer), "gpt": gpt, "steps": state.step,
               "first_loss": state.loss_curve[0][1], "final_loss": state.loss_curve[-1][1], "loss_curve": state.loss_curve,
               "holdout": quality, "config": dict(spec), "train_s": time.time() - t0}
    write_json(metrics_path, metrics)
    finish_run(ckpt)
    log(f"clipcap: {len(caps)} pairs, loss {metrics['first_loss']:.2f} -> {metrics['final_loss']:.2f}; "
        f"held-out: {quality}")
    return metrics


def caption_quality(model: C.ClipCaptionModel, tokenizer, emb, max_tokens: int = 67, n: int = 200) -> dict:
    """Share (%) of the first ``n`` images whose caption names each metadata field's value."""
    captions = C.generate(model, tokenizer, emb.features[:n], max_tokens=max_tokens)
    out = {"n": len(captions), "examples": captions[:3]}
    for field in QUALITY_FIELDS:
        vals = [m.get(field) for m in emb.metadata[:n]]
        pairs = [(c, str(v)) for c, v in zip(captions, vals) if v]
        if pairs:
            out[f"names_{field}"] = round(100.0 * sum(holds(c, v) for c, v in pairs) / len(pairs), 1)
    return out


def load(spec: Mapping, model_path: str, tokenizer_dir: str, clip_dim: int,
         log: Callable[[str], None] = print) -> tuple[C.ClipCaptionModel, object]:
    """A trained toy ClipCap (ours), or the official weights with GPT-2's tokenizer."""
    tokenizer = C.load_tokenizer(tokenizer_dir)
    if spec.get("weights"):  # the official ClipCap: GPT-2 base, prefix 10, a 512-d CLIP
        model = C.build(C.official_gpt_config(len(tokenizer)), clip_dim, int(spec.get("prefix_length", 10)))
    else:
        state = torch.load(model_path, map_location="cpu", weights_only=True)
        n_embd = state["gpt.transformer.wte.weight"].shape[1]
        gpt = {**spec["gpt"], "vocab_size": state["gpt.transformer.wte.weight"].shape[0],
               "n_positions": state["gpt.transformer.wpe.weight"].shape[0], "n_embd": n_embd}
        model = C.build(gpt, clip_dim, int(spec["prefix_length"]))
    dropped = C.load_state(model, model_path)
    if dropped:
        log(f"{model_path}: dropped {len(dropped)} attention buffers current transformers does not keep")
    return model, tokenizer


def caption_split(spec: Mapping, model_path: str, tokenizer_dir: str, embedding_path: str, out_path: str,
                  device: str = "auto", log: Callable[[str], None] = print) -> pd.DataFrame:
    """Captions of every image of a cached split (key, caption), in the cache's order."""
    emb = load_embeddings(embedding_path, normalize=False)
    model, tokenizer = load(spec, model_path, tokenizer_dir, emb.features.shape[1], log)
    model.to(pick_device(device))
    bar = tqdm(total=len(emb), desc="captions")
    captions = C.generate(model, tokenizer, emb.features, max_tokens=int(spec.get("max_tokens", 67)),
                          progress=bar.update)
    bar.close()
    df = pd.DataFrame({"key": emb.keys, "caption": captions})
    with atomic_path(out_path) as tmp:
        df.to_parquet(tmp, index=False)
    log(f"{len(df)} captions of {embedding_path}, e.g. {captions[:2]}")
    return df

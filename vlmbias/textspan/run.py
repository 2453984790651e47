"""The TextSpan family's model passes (Gandelsman et al., ICLR 2024): one decomposition pass per
(CLIP, dataset), the text pool's embeddings, and the token heatmaps. Everything after them
(``vlmbias.textspan.analyses``, ``vlmbias.textspan.tables``) reads their files, without the model.

Data flow (rules/textspan.smk):

    decompose (model, sampled split)  -> results/textspan/<clip>/<dataset>/decomposition.pt
    text_pool (model, pool)           -> results/textspan/<clip>/pool.pt
    heatmaps (model, sampled split)   -> results/textspan/<clip>/heatmaps.pt
    ablations (no model)              -> results/textspan/<clip>/<dataset>/ablations.json
    heads (no model)                  -> results/textspan/<clip>/heads.{json,pt}
    waterbirds (no model)             -> results/textspan/<clip>/waterbirds.json
    tables                            -> results/tables/<id>.{csv,md}, results/figures/<id>*.png

Every mean is over the same image set the accuracy is measured on (the official code).
"""

from __future__ import annotations

import time
from typing import Mapping

import torch
from torch.utils.data import DataLoader

from vlmbias.clip.load import load_clip
from vlmbias.clip.spec import class_names
from vlmbias.clip.templates import templates
from vlmbias.clip.zeroshot import encode_texts, zero_shot_weights
from vlmbias.core.device import pick_device
from vlmbias.shards.dataset import ShardImageDataset, labeled_split
from vlmbias.textspan import decompose as D
from vlmbias.textspan.pool import read_pool, text_pool

DTYPES = {"float16": torch.float16, "float32": torch.float32, "bfloat16": torch.bfloat16}


def run_decompose(spec: Mapping, checkpoint: str | None, name: str, sample_dir: str, dataset: str,
                  dataset_spec: Mapping, ts: Mapping, out_path: str, log=print) -> dict:
    """Rule textspan_decompose: one streaming pass over a sampled split -> decomposition.pt
    (fold, streaming statistics, compact per-image data, labels, keys, metadata, classifier)."""
    device = pick_device(ts.get("device", "auto"))
    torch.manual_seed(0)
    bundle = load_clip(spec, checkpoint=checkpoint, device=device, name=name)
    split = ts.get("split", "val") if dataset == ts["dataset"] else ts["waterbirds"].get("split", "test")
    records, rows = labeled_split(sample_dir, split, ts.get("max_images"))
    ds = ShardImageDataset(records, bundle.preprocess)
    classnames = (ts["waterbirds"].get("classes") if ts.get("waterbirds") and dataset == ts["waterbirds"]["dataset"]
                  else None) or class_names(dataset_spec)
    labels = torch.tensor(rows["label"].astype(int).tolist())
    if int(labels.max()) >= len(classnames) or int(labels.min()) < 0:
        raise ValueError(f"{dataset}: labels outside 0..{len(classnames) - 1} for classes {classnames}")
    W = zero_shot_weights(bundle, list(classnames), templates(ts.get("templates", "openai_imagenet"))).float().cpu()
    fold0 = D.Fold.from_model(bundle.model)
    last = int(ts["last_layers"])
    if not 1 <= last <= fold0.layers:
        raise ValueError(f"textspan.last_layers={last}: {name} has {fold0.layers} layers")
    cov_layers = list(range(fold0.layers - last, fold0.layers))
    loader = DataLoader(ds, batch_size=int(ts.get("batch_size", 64)), shuffle=False,
                        num_workers=int(ts.get("num_workers", 0)))
    t0 = time.time()
    fold, stats, data = D.decompose_dataset(bundle.model, loader, cov_layers, device,
                                            DTYPES[ts.get("store_dtype", "float16")], log=log)
    secs = time.time() - t0
    if not torch.equal(data["labels"], labels):
        raise RuntimeError("decomposition: labels out of order")
    out = {"fold": fold.state(), "stats": stats.state(), "data": data, "classifier": W,
           "classnames": list(classnames), "keys": rows["key"].tolist(),
           "metadata": rows["metadata"].tolist() if "metadata" in rows else [None] * len(rows),
           "dataset": dataset, "split": split, "model": name, "weights": bundle.weights,
           "cov_layers": cov_layers,
           "info": {"images": stats.n, "seconds": secs, "images_per_s": stats.n / max(secs, 1e-9),
                    "device": str(device), "bytes_per_image": D.Store.bytes_per_image(fold, data["heads"].dtype)}}
    D.save(out, out_path)
    log(f"{name} on {dataset}/{split}: {stats.n} images decomposed in {secs:.1f}s "
        f"({out['info']['images_per_s']:.1f} img/s), {out['info']['bytes_per_image']} bytes stored per image")
    return out


def run_text_pool(spec: Mapping, checkpoint: str | None, name: str, ts: Mapping, out_path: str, log=print) -> dict:
    """Rule textspan_pool: the text pool (toy: generated from the toy vocabulary; else a file,
    one description per line) and its L2-normalised CLIP text embeddings."""
    bundle = load_clip(spec, checkpoint=checkpoint, device=pick_device(ts.get("device", "auto")), name=name)
    pool = ts.get("pool", "toy")
    if pool == "toy":
        pairs = text_pool()
        texts, cats = [t for _, t in pairs], [c for c, _ in pairs]
    else:
        texts = read_pool(pool)
        cats = [None] * len(texts)
    emb = encode_texts(bundle, texts)
    out = {"texts": texts, "categories": cats, "embeddings": emb, "pool": pool, "model": name}
    D.save(out, out_path)
    log(f"{name}: {len(texts)} pool texts embedded")
    return out


# --- token heatmaps (f21) ------------------------------------------------------------------


def token_maps(bundle, images: torch.Tensor, prompts_emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token maps <c_token^i, t_p> for image tokens i >= 1 (all layers and heads), upsampled
    bilinearly to the input size: [B, P, H, W]; and the full similarity <y_hat, t_p> [B, P]."""
    dec = D.Decomposer(bundle.model, tokens=True)
    b = dec(images.to(bundle.device))
    fold = dec.fold.to(device=bundle.device)
    tok = D.phi_tokens(b.tokens, b.mu, b.sigma, b.norm, fold)[:, 1:]  # drop CLS
    maps = tok @ prompts_emb.to(tok.device, tok.dtype).T                   # [B, N-1, P]
    gh, gw = bundle.model.visual.grid_size
    maps = maps.permute(0, 2, 1).reshape(len(images), -1, gh, gw)
    maps = torch.nn.functional.interpolate(maps, size=tuple(images.shape[-2:]), mode="bilinear", align_corners=False)
    sims = b.embedding @ prompts_emb.to(b.embedding.device, b.embedding.dtype).T
    return maps.cpu(), sims.cpu()


def run_heatmaps(spec: Mapping, checkpoint: str | None, name: str, sample_dir: str, ts: Mapping,
                 dataset_spec: Mapping, out_path: str, log=print) -> dict:
    """Rule textspan_heatmaps (f21): for the first ``heatmaps.n_images`` images of the split,
    the token maps of the two prompts (``{label}`` in a prompt becomes the image's class name).
    Writes the table rows and the arrays the figure draws to ``out_path``."""
    hm = ts["heatmaps"]
    classnames = class_names(dataset_spec)
    device = pick_device(ts.get("device", "auto"))
    torch.manual_seed(0)
    bundle = load_clip(spec, checkpoint=checkpoint, device=device, name=name)
    records, rows = labeled_split(sample_dir, ts.get("split", "val"), int(hm.get("n_images", 4)))
    ds = ShardImageDataset(records, bundle.preprocess)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    table_rows, maps, prompts_all = [], [], []
    for i in range(len(ds)):
        label = classnames[int(rows["label"].iloc[i])]
        prompts = [p.replace("{label}", label) for p in hm["prompts"]]
        emb = encode_texts(bundle, prompts)
        m, sims = token_maps(bundle, x[i:i + 1], emb)
        maps.append(m[0])
        prompts_all.append(prompts)
        grid = m[0][:, ::bundle.model.visual.patch_size[0], ::bundle.model.visual.patch_size[1]]
        for p, prompt in enumerate(prompts):
            g = grid[p]
            centre = _centre_share(g)
            table_rows.append({"model": name, "image": rows["key"].iloc[i], "label": label, "prompt": prompt,
                            "similarity_x100": round(100 * float(sims[0, p]), 3),
                            "token_sum_x100": round(100 * float(g.sum()), 3),
                            "max_token_x100": round(100 * float(g.max()), 3),
                            "centre_share_pos_pct": round(100 * centre, 1)})
    mean, std = _normalize_stats(bundle.preprocess)
    images = (x * std[None, :, None, None] + mean[None, :, None, None]).clamp(0, 1)
    out = {"model": name, "records": table_rows,
           "arrays": {"images": images, "maps": torch.stack(maps), "prompts": prompts_all,
                      "labels": [classnames[int(v)] for v in rows["label"]]}}
    D.save(out, out_path)
    log(f"{name}: token maps for {len(ds)} images x {len(hm['prompts'])} prompts")
    return out


def _centre_share(grid: torch.Tensor) -> float:
    """Share of the positive map mass in the central half (by side) of the token grid: where the
    toy world's object sits."""
    pos = grid.clamp_min(0)
    h, w = pos.shape
    c = pos[h // 4: h - h // 4, w // 4: w - w // 4].sum()
    return float(c / pos.sum().clamp_min(1e-12))


def _normalize_stats(preprocess) -> tuple[torch.Tensor, torch.Tensor]:
    for t in getattr(preprocess, "transforms", []):
        if type(t).__name__ == "Normalize":
            return torch.tensor(t.mean, dtype=torch.float32), torch.tensor(t.std, dtype=torch.float32)
    return torch.zeros(3), torch.ones(3)

"""The TextSpan family's rules (Gandelsman et al., ICLR 2024): one decomposition pass per
(CLIP, dataset), then ablations, TextSpan, top images, token heatmaps and the Waterbirds head
ablation, and their tables/figures (t18, f19, t20, f21, t22).

Data flow (rules/textspan.smk):

    decompose (model, sampled split)  -> results/textspan/<clip>/<dataset>/decomposition.pt
    text_pool (model, pool)           -> results/textspan/<clip>/pool.pt
    ablations (no model)              -> results/textspan/<clip>/<dataset>/ablations.json
    heads (no model)                  -> results/textspan/<clip>/heads.{json,pt}
    waterbirds (no model)             -> results/textspan/<clip>/waterbirds.json
    tables                            -> results/tables/<id>.{csv,md}, results/figures/<id>*.png

Every mean is over the same image set the accuracy is measured on (the official code).
"""

from __future__ import annotations

import json
import os
import random
from typing import Callable, Mapping, Sequence

import torch

from vlmbias import decompose as D
from vlmbias import textspan as T
from vlmbias.textspan_config import TITLES

DTYPES = {"float16": torch.float16, "float32": torch.float32, "bfloat16": torch.bfloat16}


# --- model-running steps ---------------------------------------------------------------------


def _device(requested: str = "auto") -> torch.device:
    from vlmbias.train import pick_device

    return pick_device(requested)


def load_model(spec: Mapping, checkpoint: str | None, name: str, device):
    from vlmbias import clip

    return clip.load_clip(spec, checkpoint=checkpoint, device=device, name=name)


def split_images(sample_dir: str, split: str, transform: Callable | None, max_images: int | None = None):
    """(ShardImageDataset, index rows) of one split of a sampled dataset, in rank order, through
    the project's one data path; a missing or unlabeled split is an error naming the directory."""
    from vlmbias.data import ShardImageDataset, labeled_records
    from vlmbias.sampling import load_index, split_frame

    rows = split_frame(load_index(sample_dir), split).reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"{sample_dir}: no {split!r} images in index.parquet")
    if max_images:
        rows = rows.iloc[:max_images].reset_index(drop=True)
    if rows["label"].isna().any():
        raise ValueError(f"{sample_dir} {split}: {int(rows['label'].isna().sum())} images without a label "
                         f"(json 'label'); zero-shot accuracy needs labeled images")
    return ShardImageDataset(labeled_records(rows, sample_dir), transform), rows


def zero_shot_classifier(bundle, classnames: Sequence[str], template_set: str) -> torch.Tensor:
    from vlmbias import clip

    return clip.zero_shot_weights(bundle, list(classnames), clip.templates(template_set)).float().cpu()


def run_decompose(spec: Mapping, checkpoint: str | None, name: str, sample_dir: str, dataset: str,
                  dataset_spec: Mapping, ts: Mapping, out_path: str, log=print) -> dict:
    """Rule textspan_decompose: one streaming pass over a sampled split -> decomposition.pt
    (fold, streaming statistics, compact per-image data, labels, keys, metadata, classifier)."""
    from torch.utils.data import DataLoader

    from vlmbias import clip

    device = _device(ts.get("device", "auto"))
    torch.manual_seed(0)
    bundle = load_model(spec, checkpoint, name, device)
    split = ts.get("split", "val") if dataset == ts["dataset"] else ts["waterbirds"].get("split", "test")
    ds, rows = split_images(sample_dir, split, bundle.preprocess, ts.get("max_images"))
    classnames = (ts["waterbirds"].get("classes") if ts.get("waterbirds") and dataset == ts["waterbirds"]["dataset"]
                  else None) or clip.class_names(dataset_spec)
    labels = torch.tensor(rows["label"].astype(int).tolist())
    if int(labels.max()) >= len(classnames) or int(labels.min()) < 0:
        raise ValueError(f"{dataset}: labels outside 0..{len(classnames) - 1} for classes {classnames}")
    W = zero_shot_classifier(bundle, classnames, ts.get("templates", "openai_imagenet"))
    fold0 = D.Fold.from_model(bundle.model)
    last = int(ts["last_layers"])
    if not 1 <= last <= fold0.layers:
        raise ValueError(f"textspan.last_layers={last}: {name} has {fold0.layers} layers")
    cov_layers = list(range(fold0.layers - last, fold0.layers))
    loader = DataLoader(ds, batch_size=int(ts.get("batch_size", 64)), shuffle=False,
                        num_workers=int(ts.get("num_workers", 0)))
    import time

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
           "sample_dir": sample_dir, "cov_layers": cov_layers,
           "info": {"images": stats.n, "seconds": secs, "images_per_s": stats.n / max(secs, 1e-9),
                    "device": str(device), "bytes_per_image": D.Store.bytes_per_image(fold, data["heads"].dtype)}}
    _save(out, out_path)
    log(f"{name} on {dataset}/{split}: {stats.n} images decomposed in {secs:.1f}s "
        f"({out['info']['images_per_s']:.1f} img/s), {out['info']['bytes_per_image']} bytes stored per image")
    return out


def run_text_pool(spec: Mapping, checkpoint: str | None, name: str, ts: Mapping, out_path: str, log=print) -> dict:
    """Rule textspan_pool: the text pool (toy: generated from the toy vocabulary; else a file,
    one description per line) and its L2-normalised CLIP text embeddings."""
    device = _device(ts.get("device", "auto"))
    bundle = load_model(spec, checkpoint, name, device)
    pool = ts.get("pool", "toy")
    if pool == "toy":
        pairs = T.text_pool()
        texts, cats = [t for _, t in pairs], [c for c, _ in pairs]
    else:
        texts = T.read_pool(pool)
        cats = [None] * len(texts)
    emb = encode_texts(bundle, texts)
    out = {"texts": texts, "categories": cats, "embeddings": emb, "pool": pool, "model": name}
    _save(out, out_path)
    log(f"{name}: {len(texts)} pool texts embedded")
    return out


@torch.no_grad()
def encode_texts(bundle, texts: Sequence[str], batch_size: int = 512) -> torch.Tensor:
    out = []
    for s in range(0, len(texts), batch_size):
        tok = bundle.tokenizer(list(texts[s:s + batch_size])).to(bundle.device)
        out.append(torch.nn.functional.normalize(bundle.model.encode_text(tok).float(), dim=-1).cpu())
    return torch.cat(out)


def _save(obj, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_decomposition(path: str) -> dict:
    d = torch.load(path, map_location="cpu", weights_only=False)
    d["fold"] = D.Fold.from_state(d["fold"])
    d["stats"] = D.Stats.from_state(d["stats"])
    return d


# --- analyses without the model ------------------------------------------------------------------


def run_ablations(decomp_path: str, out_path: str, log=print) -> dict:
    """Rule textspan_ablations: zero-shot accuracy of the full model, with all MLPs + the
    embedding term mean-ablated (t18), and with attention layers 0..l mean-ablated (f19)."""
    d = load_decomposition(decomp_path)
    data, fold, stats, W = d["data"], d["fold"], d["stats"], d["classifier"]
    labels = data["labels"]
    base = T.accuracy(data["embedding"] @ W, labels)
    mlp = T.accuracy(T.ablation_logits(data, fold, stats, W, mlps=True), labels)
    curve = T.accumulated_msa_curve(data, fold, stats, W, labels)
    out = {"model": d["model"], "dataset": d["dataset"], "split": d["split"], "images": int(len(labels)),
           "classes": len(d["classnames"]), "chance": 100.0 / len(d["classnames"]), "base_acc": base,
           "mlp_ablated_acc": mlp, "msa_accumulated": curve, "layers": fold.layers, "heads": fold.heads,
           "weights": d["weights"], "info": d["info"]}
    _write_json(out, out_path)
    log(f"{d['model']}: base {base:.2f}%, MLPs ablated {mlp:.2f}%, MSA curve {[round(c, 1) for c in curve]}")
    return out


def run_heads(decomp_path: str, pool_path: str, ts: Mapping, out_json: str, out_pt: str, log=print) -> dict:
    """Rule textspan_heads: TextSpan on every head of the last L layers (covariance form), the
    explained variance, zero-shot accuracy with those heads replaced by their TextSpan
    projection (earlier layers mean-ablated, MLPs intact) and the top-k images per head."""
    d = load_decomposition(decomp_path)
    pool = torch.load(pool_path, map_location="cpu", weights_only=False)
    data, fold, stats, W = d["data"], d["fold"], d["stats"], d["classifier"]
    labels = data["labels"]
    layers = d["cov_layers"]
    m, rank = int(ts["texts_per_head"]), int(ts.get("rank", 80))
    device = _device(ts.get("device", "auto"))
    spans = T.textspan_all_heads(stats, pool["embeddings"], layers, m, rank, device=device)
    early = [l for l in range(fold.layers) if l not in layers]
    acc = {
        "base": T.accuracy(data["embedding"] @ W, labels),
        "early_layers_ablated": T.accuracy(T.ablation_logits(data, fold, stats, W, layers=early), labels),
        "textspan_replaced": T.accuracy(T.replaced_logits(data, fold, stats, W, spans, early), labels),
        "heads_mean_ablated": T.accuracy(T.ablation_logits(data, fold, stats, W, layers=early + layers), labels),
    }
    # the same, per basis size m' = 1..m (prefixes of the greedy bases)
    per_m = [T.accuracy(T.replaced_logits(data, fold, stats, W, [dict(s, directions=s["directions"][:k])
                                                                   for s in spans], early), labels)
             for k in range(1, m + 1)]
    heads = []
    for s in spans:
        top = T.top_images(data, fold, s, int(ts.get("top_k", 8)))
        heads.append({"layer": s["layer"], "head": s["head"], "texts": [pool["texts"][i] for i in s["indices"]],
                      "categories": [pool["categories"][i] for i in s["indices"]],
                      "explained": s["explained"], "variances": s["variances"], "top_images": top,
                      "top_keys": [d["keys"][i] for i in top]})
    out = {"model": d["model"], "dataset": d["dataset"], "split": d["split"], "images": int(len(labels)),
           "layers": layers, "texts_per_head": m, "rank": rank, "pool": pool["pool"], "pool_size": len(pool["texts"]),
           "accuracy": acc, "replaced_acc_per_m": per_m, "chance": 100.0 / len(d["classnames"]),
           "unique_texts": len({t for h in heads for t in h["texts"]}), "heads": heads,
           "sample_dir": d["sample_dir"]}
    _write_json(out, out_json)
    _save({"directions": {(s["layer"], s["head"]): s["directions"] for s in spans}}, out_pt)
    log(f"{d['model']}: TextSpan m={m} on {len(spans)} heads; accuracy {acc}")
    return out


def _group_of(meta, attribute: str) -> int:
    if isinstance(meta, str):
        meta = json.loads(meta)
    if not isinstance(meta, Mapping) or attribute not in meta:
        raise ValueError(f"image metadata has no {attribute!r} (the Waterbirds background group)")
    return int(meta[attribute])


def run_waterbirds(decomp_path: str, heads_json: str, wb: Mapping, seed: int, out_path: str, log=print) -> dict:
    """Rule textspan_waterbirds: worst-group and average zero-shot accuracy, base vs
    mean-ablating the place heads (selected from the TextSpan output by keyword rule) vs the
    same number of random heads of the same layers (several draws), each on top of the
    official protocol's context ablation (every earlier layer and all MLPs mean-ablated)."""
    d = load_decomposition(decomp_path)
    with open(heads_json) as f:
        hs = json.load(f)
    data, fold, stats, W = d["data"], d["fold"], d["stats"], d["classifier"]
    labels = data["labels"]
    groups = torch.tensor([_group_of(m, wb.get("group_attribute", "place")) for m in d["metadata"]])
    layers = hs["layers"]
    early = [l for l in range(fold.layers) if l not in layers]
    selected = T.select_heads(hs["heads"], wb["place_keywords"], int(wb.get("top_texts", 3)),
                              float(wb.get("min_share", 0.5)), wb.get("max_heads"))
    sel = [(h["layer"], h["head"]) for h in selected]

    def evaluate(heads):
        logits = T.ablation_logits(data, fold, stats, W, mlps=True, layers=early, heads=heads)
        return T.group_accuracies(logits, labels, groups)

    rows = {"base": T.group_accuracies(data["embedding"] @ W, labels, groups),
            "context_ablated": evaluate([]), "place_heads": evaluate(sel)}
    pool = [(l, h) for l in layers for h in range(fold.heads)]
    rng = random.Random(seed)
    draws = []
    if sel:
        for _ in range(int(wb.get("random_repeats", 10))):
            pick = rng.sample(pool, len(sel))
            draws.append({"heads": pick, **evaluate(pick)})
    out = {"model": d["model"], "dataset": d["dataset"], "split": d["split"], "images": int(len(labels)),
           "classnames": d["classnames"], "heads_from": f"{hs['dataset']}/{hs['split']}", "layers": layers,
           "rule": {k: wb.get(k) for k in ("place_keywords", "top_texts", "min_share", "max_heads")},
           "selected": [{"layer": h["layer"], "head": h["head"], "keyword_share": h["keyword_share"],
                         "texts": h["texts"][:int(wb.get("top_texts", 3))]} for h in selected],
           "results": rows, "random": draws,
           "group_sizes": {f"{y}/{g}": int(((labels == y) & (groups == g)).sum())
                           for y in labels.unique().tolist() for g in groups.unique().tolist()}}
    if draws:
        best = max(draws, key=lambda r: (r["worst"], r["avg"]))
        out["results"]["random_heads_max"] = {k: best[k] for k in ("avg", "worst", "groups")} | {"heads": best["heads"]}
        out["results"]["random_heads_mean"] = {"avg": sum(r["avg"] for r in draws) / len(draws),
                                               "worst": sum(r["worst"] for r in draws) / len(draws)}
    _write_json(out, out_path)
    log(f"{d['model']}: place heads {sel}; worst-group base {rows['base']['worst']:.1f}, "
        f"place heads {rows['place_heads']['worst']:.1f}")
    return out


def _write_json(obj, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


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
                 classnames: Sequence[str], log=print) -> tuple[list[dict], dict]:
    """f21: for the first ``heatmaps.n_images`` images of the split, the token maps of the two
    prompts (``{label}`` in a prompt becomes the image's class name). Returns CSV rows and the
    arrays the figure draws."""
    hm = ts["heatmaps"]
    device = _device(ts.get("device", "auto"))
    torch.manual_seed(0)
    bundle = load_model(spec, checkpoint, name, device)
    ds, rows = split_images(sample_dir, ts.get("split", "val"), bundle.preprocess, int(hm.get("n_images", 4)))
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    records, maps, prompts_all = [], [], []
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
            records.append({"model": name, "image": rows["key"].iloc[i], "label": label, "prompt": prompt,
                            "similarity_x100": round(100 * float(sims[0, p]), 3),
                            "token_sum_x100": round(100 * float(g.sum()), 3),
                            "max_token_x100": round(100 * float(g.max()), 3),
                            "centre_share_pos_pct": round(100 * centre, 1)})
    mean, std = _normalize_stats(bundle.preprocess)
    images = (x * std[None, :, None, None] + mean[None, :, None, None]).clamp(0, 1)
    log(f"{name}: token maps for {len(ds)} images x {len(hm['prompts'])} prompts")
    return records, {"images": images, "maps": torch.stack(maps), "prompts": prompts_all,
                     "labels": [classnames[int(v)] for v in rows["label"]]}


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


# --- tables and figures ---------------------------------------------------------------------


def _arch(config: Mapping, name: str) -> str:
    return config["clip"]["models"][name]["open_clip"]


def _notes(config: Mapping, extra: Sequence[str]) -> list[str]:
    from vlmbias.tables import data_description

    return [f"Data: {data_description(config)}."] + list(extra) + [
        "reproduced: computed by this workflow; reported: the material's value (blank where it gives none)."]


def write_t18(config: Mapping, ablations: Sequence[dict], csv_path: str, md_path: str):
    import pandas as pd

    from vlmbias.reported import reported_value
    from vlmbias.tables import write_table

    tid = "t18_textspan_mlp_ablation"
    recs = []
    for a in ablations:
        arch = _arch(config, a["model"])
        recs.append({"model": a["model"], "arch": arch, "weights": a["weights"], "dataset": f"{a['dataset']}/{a['split']}",
                     "images": a["images"], "reproduced_base_acc": round(a["base_acc"], 2),
                     "reported_base_acc": _rep(reported_value(tid, f"{arch}/base")),
                     "reproduced_mlp_ablated_acc": round(a["mlp_ablated_acc"], 2),
                     "reported_mlp_ablated_acc": _rep(reported_value(tid, f"{arch}/mlp_ablated")),
                     "drop": round(a["base_acc"] - a["mlp_ablated_acc"], 2), "chance": round(a["chance"], 2)})
    df = pd.DataFrame.from_records(recs)
    write_table(df, csv_path, md_path, f"{tid}: {TITLES[tid]}", _notes(config, [
        "Zero-shot top-1 from the exact decomposition (sum of all direct contributions = the "
        "L2-normalised image embedding); MLPs ablated: every MLP term AND the embedding term "
        "(the official code's 'MLP 0') replaced by its mean over the same image set.",
        "The paper reports a 1-3 point drop (ImageNet val, 50,000 images)."]))
    return df


def _rep(v):
    return float(v) if v is not None else float("nan")


def write_f19(config: Mapping, ablations: Sequence[dict], csv_path: str, md_path: str, png_path: str):
    import pandas as pd

    from vlmbias.tables import write_table

    tid = "f19_textspan_msa_ablation"
    recs = []
    for a in ablations:
        for l, acc in enumerate(a["msa_accumulated"]):
            recs.append({"model": a["model"], "arch": _arch(config, a["model"]), "layers": a["layers"],
                         "ablated_up_to": "none" if l == 0 else f"0..{l - 1}", "n_ablated": l,
                         "reproduced_acc": round(acc, 2), "chance": round(a["chance"], 2)})
    df = pd.DataFrame.from_records(recs)
    write_table(df, csv_path, md_path, f"{tid}: {TITLES[tid]}", _notes(config, [
        "Attention layers 0..l (heads summed) replaced by their mean over the same image set; MLPs intact.",
        "The paper gives a plot only: accuracy stays flat until the last ~4 layers are ablated, then collapses."]))
    _plot_f19(df, png_path, config)
    return df


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_f19(df, path: str, config: Mapping) -> None:
    from vlmbias.tables import data_description

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (model, d) in enumerate(df.groupby("model", sort=False)):
        ax.plot(d["n_ablated"], d["reproduced_acc"], "o-", color=f"C{i}", label=f"{model} ({d['arch'].iloc[0]})")
    ax.axhline(float(df["chance"].iloc[0]), color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("attention layers mean-ablated (0..l), MLPs intact")
    ax.set_ylabel("zero-shot top-1 (%)")
    ax.set_title("f19: MSAs accumulated mean-ablation", fontsize=11)
    ax.text(0.0, -0.17, f"Data: {data_description(config)}. Paper: flat until the last ~4 layers.",
            transform=ax.transAxes, fontsize=7, va="top", wrap=True)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def write_t20(config: Mapping, heads_runs: Sequence[dict], csv_path: str, md_path: str,
              png_paths: Mapping[str, str], show_texts: int = 5):
    import pandas as pd

    from vlmbias.reported import reported
    from vlmbias.tables import write_table

    tid = "t20_textspan_heads"
    rep = reported().get(tid, {})
    recs, acc = [], []
    for hr in heads_runs:
        arch = _arch(config, hr["model"])
        for h in hr["heads"]:
            r = rep.get(arch, {}).get(f"{h['layer']}/{h['head']}")
            recs.append({"model": hr["model"], "layer": h["layer"], "head": h["head"],
                         "explained_var_pct": round(100 * h["explained"][-1], 2),
                         "explained_var_first_pct": round(100 * h["explained"][0], 2),
                         "texts": " | ".join(h["texts"][:show_texts]),
                         "reported_texts": " | ".join(r) if r else "",
                         "all_texts": " | ".join(h["texts"]), "top_images": " ".join(h["top_keys"])})
        a = hr["accuracy"]
        acc.append({"model": hr["model"], "arch": arch, "m": hr["texts_per_head"], "pool_size": hr["pool_size"],
                    "unique_texts": hr["unique_texts"], "base_acc": round(a["base"], 2),
                    "early_layers_ablated_acc": round(a["early_layers_ablated"], 2),
                    "textspan_replaced_acc": round(a["textspan_replaced"], 2),
                    "heads_mean_ablated_acc": round(a["heads_mean_ablated"], 2),
                    "replaced_acc_per_m": " ".join(f"{v:.1f}" for v in hr["replaced_acc_per_m"]),
                    "chance": round(hr["chance"], 2)})
    df = pd.DataFrame.from_records(recs)
    acc_df = pd.DataFrame.from_records(acc)
    hr0 = heads_runs[0]
    notes = _notes(config, [
        f"TextSpan (greedy, covariance form) on every head of layers {hr0['layers']}, basis size m = "
        f"{hr0['texts_per_head']} from a pool of {hr0['pool_size']} texts ({hr0['pool']}); texts projected onto the "
        f"top-{hr0['rank']} right singular subspace of each head's uncentred contributions, as the official code.",
        "explained_var_pct: 100 x V_explained / V_total of the head's (centred) contributions after all m "
        "texts (explained_var_first_pct: after the first); texts: the first ones in greedy order (the CSV "
        "also has all_texts and top_images).",
        "top_images: sample keys of the images whose head contribution has the largest dot product with "
        "the head's first text direction (PNG grid per model).",
        "reported_texts: the material's texts for that head (ViT-L-14, Figure 4 table) where it lists them.",
    ])
    write_table(df.drop(columns=["all_texts", "top_images"]), csv_path, md_path, f"{tid}: {TITLES[tid]}", notes)
    df.to_csv(csv_path, index=False)  # the CSV keeps every text and the top images
    # the accuracy summary: a second table in the same Markdown file and a CSV beside
    acc_csv = csv_path[:-4] + "_accuracy.csv"
    acc_df.to_csv(acc_csv, index=False)
    with open(md_path, "a") as f:
        f.write("\n## Zero-shot accuracy with the heads replaced by their TextSpan projection\n\n"
                "- base: the full model; early_layers_ablated: attention layers before the analysed ones "
                "mean-ablated (MLPs intact); textspan_replaced: that, plus every analysed head replaced by "
                "mean + its projection onto its m text directions (the official protocol); "
                "heads_mean_ablated: every analysed head replaced by its mean (m = 0); "
                "replaced_acc_per_m: textspan_replaced for m = 1..M.\n\n")
        f.write(acc_df.to_markdown(index=False, floatfmt=".2f") + "\n")
    for hr in heads_runs:
        _plot_top_images(hr, png_paths[hr["model"]])
    return df, acc_df


def _plot_top_images(hr: dict, path: str) -> None:
    plt = _plt()
    ds, _ = split_images(hr["sample_dir"], hr["split"], None, hr["images"])
    heads = hr["heads"]
    k = max(len(h["top_images"]) for h in heads)
    fig, axes = plt.subplots(len(heads), k + 1, figsize=(1.2 * (k + 1) + 2.2, 1.2 * len(heads)),
                             gridspec_kw={"width_ratios": [2.6] + [1] * k}, squeeze=False)
    for r, h in enumerate(heads):
        ax = axes[r][0]
        ax.axis("off")
        ax.text(0.0, 0.5, f"L{h['layer']}.H{h['head']}  ({100 * h['explained'][-1]:.0f}%)\n" + "\n".join(h["texts"][:2]),
                fontsize=6, va="center", ha="left", transform=ax.transAxes)
        for c in range(k):
            ax = axes[r][c + 1]
            ax.axis("off")
            if c < len(h["top_images"]):
                ax.imshow(ds[h["top_images"][c]][0])
    fig.suptitle(f"t20: top-{k} images per head for its first TextSpan text ({hr['model']}, "
                 f"{hr['dataset']}/{hr['split']})", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_f21(config: Mapping, records: Sequence[dict], arrays: Mapping[str, dict], csv_path: str, md_path: str,
              png_paths: Mapping[str, str]):
    import pandas as pd

    from vlmbias.tables import write_table

    tid = "f21_token_heatmaps"
    df = pd.DataFrame.from_records(records)
    write_table(df, csv_path, md_path, f"{tid}: {TITLES[tid]}", _notes(config, [
        "Per image token i >= 1: its direct contribution summed over all layers and heads (LN folded "
        "exactly), dotted with the prompt's text embedding; upsampled bilinearly by the patch size. "
        "The PNG shows each prompt's map and their difference (first minus second), as in the material's Figure 8.",
        "similarity_x100: 100 x <normalised image embedding, prompt>; token_sum_x100: the image tokens' part "
        "of it; max_token_x100: the largest token; centre_share_pos_pct: share of the positive map mass in the "
        "central half of the token grid (where the toy world puts the object).",
        "Figure only in the material: no reported values."]))
    for name, arr in arrays.items():
        _plot_heatmaps(arr, png_paths[name], name)
    return df


def _plot_heatmaps(arr: dict, path: str, name: str) -> None:
    plt = _plt()
    images, maps = arr["images"], arr["maps"]
    n = len(images)
    fig, axes = plt.subplots(n, 4, figsize=(8, 2.1 * n), squeeze=False)
    for i in range(n):
        img = images[i].permute(1, 2, 0).numpy()
        p = arr["prompts"][i]
        panels = [(None, f"{arr['labels'][i]}"), (maps[i][0], p[0]), (maps[i][1], p[1]),
                  (maps[i][0] - maps[i][1], f"{p[0]}\nminus {p[1]}")]
        for c, (m, title) in enumerate(panels):
            ax = axes[i][c]
            ax.imshow(img)
            if m is not None:
                mm = m.numpy()
                lim = max(abs(mm.min()), abs(mm.max()), 1e-12)
                ax.imshow(mm, cmap="bwr", alpha=0.55, vmin=-lim, vmax=lim)
            ax.set_title(title, fontsize=6)
            ax.axis("off")
    fig.suptitle(f"f21: per-token contributions ({name}); red = towards the prompt", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_t22(config: Mapping, runs: Sequence[dict], csv_path: str, md_path: str):
    import pandas as pd

    from vlmbias.reported import reported_value
    from vlmbias.tables import write_table

    tid = "t22_textspan_waterbirds"
    labels = {"base": "base (full model)", "context_ablated": "context ablated (earlier layers + MLPs)",
              "place_heads": "+ place heads ablated (TextSpan)", "random_heads_max": "+ random heads (max over draws)",
              "random_heads_mean": "+ random heads (mean over draws)"}
    recs = []
    for r in runs:
        arch = _arch(config, r["model"])
        sel = " ".join(f"L{h['layer']}.H{h['head']}" for h in r["selected"]) or "none"
        for key, lab in labels.items():
            res = r["results"].get(key)
            if res is None:
                continue
            recs.append({"model": r["model"], "arch": arch, "setting": lab,
                         "reproduced_worst": round(res["worst"], 2),
                         "reported_worst": _rep(reported_value(tid, f"{arch}/{key}/worst")),
                         "reproduced_avg": round(res["avg"], 2),
                         "reported_avg": _rep(reported_value(tid, f"{arch}/{key}/avg")),
                         "groups": " ".join(f"{g}:{v:.0f}" for g, v in sorted(res.get("groups", {}).items())),
                         "heads": sel if key == "place_heads" else
                         (" ".join(f"L{l}.H{h}" for l, h in res["heads"]) if "heads" in res else "")})
    df = pd.DataFrame.from_records(recs)
    r0 = runs[0]
    rule = r0["rule"]
    verdict = []
    for r in runs:
        res = r["results"]
        if not r["selected"]:
            verdict.append(f"{r['model']}: the rule selected NO place head, so nothing was ablated.")
        else:
            up = res["place_heads"]["worst"] - res["context_ablated"]["worst"]
            rnd = res.get("random_heads_max", {}).get("worst", float("nan"))
            verdict.append(f"{r['model']}: ablating the {len(r['selected'])} place heads "
                           f"{'raised' if up > 0 else 'did NOT raise'} the worst group "
                           f"({res['context_ablated']['worst']:.1f} -> {res['place_heads']['worst']:.1f}; "
                           f"base {res['base']['worst']:.1f}; best of the random draws {rnd:.1f}).")
    write_table(df, csv_path, md_path, f"{tid}: {TITLES[tid]}", _notes(config, [
        f"Zero-shot {' / '.join(r0['classnames'])} on {r0['dataset']}/{r0['split']} ({r0['images']} images; "
        f"groups label/background: {r0['group_sizes']}); worst = the lowest of the four (label, background) "
        "groups, avg = over all images. Means over the same set (the official code).",
        f"Head rule: a head of layers {r0['layers']} is a place head when at least {rule['min_share']} of its "
        f"first {rule['top_texts']} TextSpan texts (from {r0['heads_from']}, t20) contain a place keyword "
        f"({', '.join(rule['place_keywords'])}); max heads: {rule['max_heads'] or 'no limit'}.",
        "As the official protocol, every ablated row also mean-ablates all earlier attention layers and all MLPs; "
        "random heads: the same number of heads drawn from the same layers, several seeded draws "
        "(the paper's 'top-random' = the best draw).",
        "Reported values are the research notes' recollection (ViT-L-14 worst group ~48 -> ~73), unverified.",
    ] + verdict))
    return df

"""The TextSpan family's analyses without the model, from a decomposition file
(``vlmbias.textspan.run``): mean-ablations (t18, f19), TextSpan on every head of the last layers
with its replaced accuracy and top images (t20), and the Waterbirds place-head ablation (t22).
"""

from __future__ import annotations

import json
import random
from typing import Mapping

import torch

from vlmbias.core.device import pick_device
from vlmbias.core.io import write_json
from vlmbias.textspan import decompose as D
from vlmbias.textspan import span as T


def run_ablations(decomp_path: str, out_path: str, log=print) -> dict:
    """Rule textspan_ablations: zero-shot accuracy of the full model, with all MLPs + the
    embedding term mean-ablated (t18), and with attention layers 0..l mean-ablated (f19)."""
    d = D.load(decomp_path)
    data, fold, stats, W = d["data"], d["fold"], d["stats"], d["classifier"]
    labels = data["labels"]
    base = T.accuracy(data["embedding"] @ W, labels)
    mlp = T.accuracy(T.ablation_logits(data, fold, stats, W, mlps=True), labels)
    curve = T.accumulated_msa_curve(data, fold, stats, W, labels)
    out = {"model": d["model"], "dataset": d["dataset"], "split": d["split"], "images": int(len(labels)),
           "classes": len(d["classnames"]), "chance": 100.0 / len(d["classnames"]), "base_acc": base,
           "mlp_ablated_acc": mlp, "msa_accumulated": curve, "layers": fold.layers, "heads": fold.heads,
           "weights": d["weights"], "info": d["info"]}
    write_json(out_path, out)
    log(f"{d['model']}: base {base:.2f}%, MLPs ablated {mlp:.2f}%, MSA curve {[round(c, 1) for c in curve]}")
    return out


def run_heads(decomp_path: str, pool_path: str, ts: Mapping, out_json: str, out_pt: str, log=print) -> dict:
    """Rule textspan_heads: TextSpan on every head of the last L layers (covariance form), the
    explained variance, zero-shot accuracy with those heads replaced by their TextSpan
    projection (earlier layers mean-ablated, MLPs intact) and the top-k images per head."""
    d = D.load(decomp_path)
    pool = torch.load(pool_path, map_location="cpu", weights_only=False)
    data, fold, stats, W = d["data"], d["fold"], d["stats"], d["classifier"]
    labels = data["labels"]
    layers = d["cov_layers"]
    m, rank = int(ts["texts_per_head"]), int(ts.get("rank", 80))
    device = pick_device(ts.get("device", "auto"))
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
           "unique_texts": len({t for h in heads for t in h["texts"]}), "heads": heads}
    write_json(out_json, out)
    D.save({"directions": {(s["layer"], s["head"]): s["directions"] for s in spans}}, out_pt)
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
    d = D.load(decomp_path)
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
    write_json(out_path, out)
    log(f"{d['model']}: place heads {sel}; worst-group base {rows['base']['worst']:.1f}, "
        f"place heads {rows['place_heads']['worst']:.1f}")
    return out

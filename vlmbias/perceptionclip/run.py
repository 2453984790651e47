"""PerceptionCLIP's jobs: a text head per (CLIP, prompt set) (rule perceptionclip_head) and the
evaluation of a task over every setting, mode and temperature from the cached image embeddings
and heads (rule perceptionclip_eval), with how well P(z|x) infers the true attribute.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from vlmbias.clip.embed import load_embeddings
from vlmbias.clip.load import load_clip
from vlmbias.clip.zeroshot import encode_texts
from vlmbias.core.device import pick_device
from vlmbias.core.io import atomic_path, write_json
from vlmbias.perceptionclip import infer as I


def build_head(spec: Mapping, checkpoint: str | None, name: str, prompt_set: Mapping, out_path: str,
               device: str = "auto", log: Callable[[str], None] = print) -> dict:
    """One row per cell of the prompt set: the mean of its prompts' L2-normalised text
    embeddings, renormalised, times the model's logit scale (100 for OpenAI's CLIPs)."""
    torch.manual_seed(0)
    bundle = load_clip(spec, checkpoint=checkpoint, device=pick_device(device), name=name)
    rows = []
    for cell in prompt_set["cells"]:
        emb = encode_texts(bundle, cell["prompts"])
        rows.append(F.normalize(emb.mean(0), dim=-1))
    scale = float(bundle.model.logit_scale.detach().exp())
    head = {"weights": torch.stack(rows) * scale, "logit_scale": scale, "model": name, "weights_from": bundle.weights,
            **{k: prompt_set[k] for k in ("classes", "z", "mode", "cells", "task", "setting", "factors")}}
    with atomic_path(out_path) as tmp:
        torch.save(head, tmp)
    log(f"{name}: head {prompt_set['task']}/{prompt_set['setting']}/{prompt_set['mode']}: {len(rows)} rows "
        f"from {sum(len(c['prompts']) for c in prompt_set['cells'])} prompts")
    return head


def _split(path: str, group_attribute: str):
    emb = load_embeddings(path)
    groups = torch.tensor([int(m[group_attribute]) for m in emb.metadata])
    return emb, groups


def _truth_index(values: Sequence[str], truth: Mapping, metadata: Sequence[Mapping]) -> tuple[list[str], torch.Tensor]:
    """The mapped values of a factor and, per image, the index of its true value (-1: unknown)."""
    mapped = [v for v in values if v in truth["values"]]
    by_meta = {str(truth["values"][v]): i for i, v in enumerate(mapped)}
    return mapped, torch.tensor([by_meta.get(str(m.get(truth["field"])), -1) for m in metadata])


def _inference(log_pz: torch.Tensor, z_names: list[str], factors: Sequence[str], truth: Mapping,
               metadata: Sequence[Mapping], labels: torch.Tensor, groups: torch.Tensor) -> dict:
    """Per factor with a known truth: accuracy (%) of argmax P(value|x) (over the values the
    truth names) against the image's metadata, overall and per (label, group) cell."""
    out = {}
    for i, factor in enumerate(factors):
        if factor not in truth:
            continue
        values, p = I.attribute_marginal(log_pz, z_names, i)
        mapped, true = _truth_index(values, truth[factor], metadata)
        if not mapped:
            continue
        pred = p[:, [values.index(v) for v in mapped]].argmax(1)
        known = true >= 0
        cells = {}
        for y in labels.unique().tolist():
            for g in groups.unique().tolist():
                sel = known & (labels == y) & (groups == g)
                if sel.any():
                    cells[f"{y}/{g}"] = 100.0 * float((pred[sel] == true[sel]).double().mean())
        out[factor] = {"values": mapped, "field": truth[factor]["field"], "n": int(known.sum()),
                       "acc": 100.0 * float((pred[known] == true[known]).double().mean()) if known.any() else math.nan,
                       "cells": cells}
    return out


def _choose(sweep: list[dict], tau_rule) -> float:
    """The temperature of a row: fixed, or the best val worst-group accuracy (then val average,
    then the temperature closest to 1)."""
    if tau_rule != "val":
        return float(tau_rule)
    best = max(sweep, key=lambda r: (round(r["val"]["worst"], 9), round(r["val"]["avg"], 9), -abs(math.log(r["tau"]))))
    return best["tau"]


def evaluate(eval_path: str, val_path: str, head_paths: Sequence[str], task: Mapping, temperatures: Sequence[float],
             tau_rule, modes: Sequence[str], out_path: str, log: Callable[[str], None] = print) -> dict:
    """Every (setting, mode, temperature) of a task on the evaluation and validation splits;
    one row per (setting, mode) at its chosen temperature, the whole sweep beside. A setting
    without factors (|Z| = 1) is plain zero-shot: one row, mode "zero_shot"."""
    heads = [torch.load(p, map_location="cpu", weights_only=False) for p in head_paths]
    data = {name: _split(path, task["group_attribute"]) for name, path in (("eval", eval_path), ("val", val_path))}
    class_heads = {h["setting"]: h for h in heads if h["mode"] == "class_attr"}
    rows, sweep = [], []
    for h in heads:
        setting, mode = h["setting"], h["mode"]
        f_head = class_heads[setting]
        n_y, n_z = len(f_head["classes"]), len(f_head["z"])
        if n_z == 1:
            mode = "zero_shot"
        elif mode not in modes:
            continue
        results = []
        for tau in (temperatures if n_z > 1 else [1.0]):
            entry = {"tau": float(tau)}
            for split, (emb, groups) in data.items():
                f = I.scores(emb.features, f_head["weights"]).view(-1, n_y, n_z)
                log_pz = (I.pure_attr_log_pz(I.scores(emb.features, h["weights"]), tau) if mode == "pure_attr"
                          else I.class_attr_log_pz(f, tau))
                pred = I.log_p_y(f, log_pz).argmax(1)
                entry[split] = I.group_metrics(pred, emb.labels, groups, n_y)
                if split == "eval":
                    entry["inference"] = _inference(log_pz, f_head["z"], h["factors"], task["truth"], emb.metadata,
                                                    emb.labels, groups)
            results.append(entry)
            sweep += [{"setting": setting, "mode": mode, "tau": float(tau), "split": s, **{k: entry[s][k] for k in
                                                                                          ("avg", "worst", "gap")}}
                      for s in ("eval", "val")]
        tau = _choose(results, tau_rule) if n_z > 1 else 1.0
        chosen = next(r for r in results if r["tau"] == tau)
        rows.append({"setting": setting, "factors": h["factors"], "z_size": n_z, "mode": mode, "tau": tau,
                     "eval": chosen["eval"], "val": chosen["val"], "inference": chosen["inference"]})
    emb = data["eval"][0]
    out = {"model": heads[0]["model"], "task": task.get("world"), "dataset": task["dataset"], "split": task["split"],
           "val_split": task["val_split"], "preprocess": task["preprocess"], "tau_rule": tau_rule,
           "temperatures": [float(t) for t in temperatures], "n_eval": len(emb),
           "group_sizes": {f"{y}/{g}": int(((emb.labels == y) & (data["eval"][1] == g)).sum()) for y in (0, 1) for g in (0, 1)},
           "rows": rows, "sweep": sweep}
    write_json(out_path, out)
    for r in rows:
        log(f"{out['model']} {r['setting']}/{r['mode']} tau {r['tau']:g}: avg {r['eval']['avg']:.1f} "
            f"worst {r['eval']['worst']:.1f}")
    return out

"""B2T's audit of one classifier on one task (rule b2t_keywords): per class, the keywords of the
captions of its mispredicted images, scored with a CLIP, with subgroup accuracy and bias tag
(``vlmbias.b2t.keywords`` has the definitions)."""

from __future__ import annotations

from typing import Callable, Mapping

import pandas as pd

from vlmbias.b2t import keywords as K
from vlmbias.b2t.plan import class_list
from vlmbias.clip.embed import load_embeddings
from vlmbias.clip.load import load_clip
from vlmbias.clip.zeroshot import encode_texts
from vlmbias.core.device import pick_device
from vlmbias.core.io import write_json


def find_keywords(task: Mapping, predictions_path: str, captions_path: str, embeddings_path: str,
                  scorer_spec: Mapping, scorer_weights: str | None, scorer_name: str, options: Mapping,
                  out_path: str, device: str = "auto", log: Callable[[str], None] = print) -> dict:
    preds = pd.read_parquet(predictions_path)
    caps = pd.read_parquet(captions_path).set_index("key")["caption"]
    missing = set(preds["key"]) - set(caps.index)
    if missing:
        raise ValueError(f"{captions_path}: no caption for {len(missing)} audited images, e.g. {sorted(missing)[:3]}")
    emb = load_embeddings(embeddings_path)
    row_of = {k: i for i, k in enumerate(emb.keys)}
    bundle = load_clip(scorer_spec, checkpoint=scorer_weights, device=pick_device(device), name=scorer_name)
    classes, scores, out = class_list(task), {}, {}
    for c, name in enumerate(classes):
        mine = preds[preds["label"] == c]
        correct = (mine["prediction"] == c).tolist()
        captions = [caps[k] for k in mine["key"]]
        wrong_caps = [cap for cap, ok in zip(captions, correct) if not ok]
        kws = K.extract_keywords(wrong_caps, n=options.get("n", 3), dedup_lim=options.get("dedup_lim", 0.9),
                                 top=options.get("top", 20), lan=options.get("lan", "en"))
        feats = emb.features[[row_of[k] for k in mine["key"]]]
        ok = pd.Series(correct).to_numpy()
        s = (K.clip_scores(feats[~ok], feats[ok], encode_texts(bundle, [K.PROMPT.format(k) for k in kws]))
             if kws else [])
        scores[name] = {k: float(v) for k, v in zip(kws, s)}
        rows = []
        for k in kws:
            acc, n = K.subgroup_accuracy(k, captions, correct)
            rows.append({"keyword": k, "score": scores[name][k], "subgroup_acc": acc, "n_images": n})
        out[name] = {"label": c, "n": len(mine), "n_wrong": len(wrong_caps), "class_acc": sum(correct) / max(1, len(mine)),
                     "keywords": rows}
    tags = K.bias_tags(scores)
    for name, res in out.items():
        for r in res["keywords"]:
            r["tag"] = tags[name][r["keyword"]]
        res["keywords"].sort(key=lambda r: -r["score"])
        top = res["keywords"][0] if res["keywords"] else None
        log(f"{task['task']}/{name}: {res['n_wrong']} of {res['n']} wrong; top keyword "
            f"{top['keyword'] if top else None!r} ({top['score'] if top else float('nan'):.2f})")
    result = {"task": task["task"], "dataset": task["dataset"], "split": task["audit_split"], "scorer": scorer_name,
              "classes": out, "examples": {n: [caps[k] for k in preds[preds["label"] == c]["key"][:3]]
                                           for c, n in enumerate(classes)}}
    write_json(out_path, result)
    return result

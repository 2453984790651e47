"""B2T's label diagnosis (t13; the material's "Application: Label diagnosis"): a keyword of a
class's mispredicted captions that names ANOTHER class -- the one the classifier predicted --
points at images whose label may be wrong (mislabeled: "bee" in class fly) or ambiguous (two
near-synonym classes: "desk" in class desktop computer).

An image is flagged when it is mispredicted (label c, prediction j), its caption holds a keyword
of class c (t11's YAKE keywords of c's mispredicted captions) and that keyword names class j
(the keyword is, or lies inside, a word sequence of j's name, or j's name lies inside it). Where
the images carry the truth in their metadata (the toy world's ``label_error``: "mislabeled" or
"ambiguous"), the flags are scored: precision over all flags, recall over each kind of planted
error (an ambiguous image counts when it is flagged as its near-synonym).
"""

from __future__ import annotations

import json
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from vlmbias.b2t.keywords import holds
from vlmbias.b2t.plan import class_list
from vlmbias.core.io import atomic_path, write_json

ERROR_KINDS = ("mislabeled", "ambiguous")


def names_class(keyword: str, name: str) -> bool:
    """Whether a keyword names a class: the class name holds it as whole words ("boar" in
    "wild boar"), or it holds the class name ("red cup" for "cup")."""
    return holds(name, keyword) or holds(keyword, name)


def flag(preds: pd.DataFrame, captions: Mapping[str, str], keywords: Mapping, classes: Sequence[str]) -> pd.DataFrame:
    """The flagged images: key, label, prediction, keyword (the strongest keyword of the label's
    class that names the prediction and that the caption holds), caption."""
    kw_of = {res["label"]: [r["keyword"] for r in res["keywords"]] for res in keywords["classes"].values()}
    rows = []
    for r in preds[preds["label"] != preds["prediction"]].itertuples(index=False):
        cap = captions[r.key]
        hit = next((k for k in kw_of.get(int(r.label), [])
                    if names_class(k, classes[int(r.prediction)]) and holds(cap, k)), None)
        if hit is not None:
            rows.append({"key": r.key, "label": int(r.label), "prediction": int(r.prediction), "keyword": hit,
                         "caption": cap})
    return pd.DataFrame(rows, columns=["key", "label", "prediction", "keyword", "caption"])


def score(flags: pd.DataFrame, preds: pd.DataFrame, truth: Mapping[str, Mapping] | None,
          classes: Sequence[str] = ()) -> dict:
    """Precision of the flags against the planted errors and recall of each kind: over all its
    images, and over those B2T can see. A flag is right on a mislabeled image, and on an
    ambiguous one when the prediction is its near-synonym (``truth[key]``: ``{"error": kind,
    "synonym": class name or None}``); "visible" images: mispredicted, ambiguous ones as their
    synonym."""
    if truth is None:
        return {"precision": None, "recall": {}, "n_flagged": len(flags)}
    pred = dict(zip(preds["key"], preds["prediction"]))
    label = dict(zip(preds["key"], preds["label"]))

    def visible(k: str) -> bool:
        t = truth.get(k) or {}
        if t.get("error") == "ambiguous":
            return bool(classes) and classes[int(pred[k])] == t.get("synonym")
        return bool(t.get("error")) and pred[k] != label[k]

    flagged = set(flags["key"])
    right = {k for k in flagged if visible(k)}
    planted = {k: t["error"] for k, t in truth.items() if t.get("error") and k in pred}
    out = {"n_flagged": len(flagged), "n_planted": len(planted), "right": sorted(right),
           "precision": len(right) / len(flagged) if flagged else None, "recall": {}}
    for kind in sorted(set(planted.values())):
        mine = {k for k, v in planted.items() if v == kind}
        seen = {k for k in mine if visible(k)}
        out["recall"][kind] = {"n": len(mine), "n_visible": len(seen), "n_flagged": len(mine & right),
                               "recall": len(mine & right) / len(mine) if mine else None,
                               "recall_of_visible": len(seen & right) / len(seen) if seen else None}
    return out


def planted_truth(metadata: Sequence[str], keys: Sequence[str]) -> dict[str, dict] | None:
    """key -> ``{"error": the planted label error ("" for a clean label), "synonym": ...}`` from
    the json metadata, or None when the images carry no ``label_error`` (real data)."""
    metas = [json.loads(m) for m in metadata]
    if not any("label_error" in m for m in metas):
        return None
    return {k: {"error": str(m.get("label_error") or ""), "synonym": m.get("synonym")} for k, m in zip(keys, metas)}


def diagnose(task: Mapping, predictions_path: str, captions_path: str, keywords: Mapping, sample_dir: str,
             out_path: str, images_path: str, examples: int = 12, thumb: int = 96,
             log: Callable[[str], None] = print) -> dict:
    """Flag, score and write the diagnosis (json) and the example images (npz: uint8 thumbnails
    of the first flagged image of each (label, prediction) pair, then the next ones)."""
    from vlmbias.shards.dataset import ShardImageDataset, labeled_split

    classes = class_list(task)
    preds = pd.read_parquet(predictions_path)
    caps = pd.read_parquet(captions_path).set_index("key")["caption"]
    missing = set(preds["key"]) - set(caps.index)
    if missing:
        raise ValueError(f"{captions_path}: no caption for {len(missing)} audited images, e.g. {sorted(missing)[:3]}")
    records, rows = labeled_split(sample_dir, task["audit_split"])
    row_of = {k: i for i, k in enumerate(rows["key"].astype(str))}
    truth = planted_truth(rows["metadata"].tolist(), rows["key"].astype(str).tolist())
    flags = flag(preds, caps, keywords, classes)
    flags["error"] = [truth[k]["error"] if truth else None for k in flags["key"]]
    metrics = score(flags, preds, truth, classes)
    right = set(metrics.pop("right", []))
    flags["right"] = [k in right for k in flags["key"]]
    pairs = (flags.groupby(["keyword", "label", "prediction"], sort=False)
             .agg(n=("key", "size"), keys=("key", list), caption=("caption", "first"),
                  planted=("right", lambda r: int(sum(r)) if truth else None))
             .reset_index().sort_values("n", ascending=False, kind="stable"))
    order = _round_robin([list(k) for k in pairs["keys"]])[:examples]
    dataset = ShardImageDataset([records[row_of[k]] for k in order], _thumbnail(thumb))
    images = np.stack([np.asarray(dataset[i][0]) for i in range(len(order))]) if order else np.zeros((0, thumb, thumb, 3), np.uint8)
    with atomic_path(images_path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, images=images, keys=np.array(order, dtype=str))
    by_key = flags.set_index("key")
    result = {"task": task["task"], "dataset": task["dataset"], "split": task["audit_split"], "classes": classes,
              "n_images": len(preds), "n_mispredicted": int((preds["label"] != preds["prediction"]).sum()),
              "planted_truth": truth is not None, **metrics,
              "pairs": [{"keyword": p.keyword, "label": classes[p.label], "prediction": classes[p.prediction], "n": int(p.n),
                         "planted": p.planted, "caption": p.caption, "keys": list(p.keys)} for p in pairs.itertuples()],
              "examples": [{"key": k, "keyword": by_key.at[k, "keyword"], "label": classes[int(by_key.at[k, "label"])],
                            "prediction": classes[int(by_key.at[k, "prediction"])], "caption": by_key.at[k, "caption"],
                            "error": by_key.at[k, "error"]} for k in order]}
    write_json(out_path, result)
    p = metrics.get("precision")
    log(f"{task['task']}: {len(flags)} images flagged of {result['n_mispredicted']} mispredicted"
        + (f"; precision {100 * p:.1f}%" if p is not None else "")
        + "".join(f"; recall {kind} {100 * (r['recall'] or 0):.1f}%" for kind, r in metrics["recall"].items()))
    return result


def _round_robin(groups: list[list[str]]) -> list[str]:
    out, i = [], 0
    while any(i < len(g) for g in groups):
        out += [g[i] for g in groups if i < len(g)]
        i += 1
    return out


def _thumbnail(size: int):
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size)])

"""B2T's label diagnosis: which images are flagged, and their precision and recall against
planted label errors."""

import json

import pandas as pd
import pytest

from vlmbias.b2t import diagnosis as D

CLASSES = ["cup", "boat", "wild boar", "mug"]


def keywords(**per_class):
    return {"classes": {c: {"label": CLASSES.index(c), "keywords": [{"keyword": k} for k in kws]}
                        for c, kws in per_class.items()}}


def test_names_class_both_ways():
    assert D.names_class("boar", "wild boar") and D.names_class("red cup", "cup") and D.names_class("cup", "cup")
    assert not D.names_class("cupboard", "cup") and not D.names_class("boat", "cup")


def test_flag_needs_a_misprediction_a_keyword_naming_the_prediction_and_the_caption():
    preds = pd.DataFrame({"key": list("abcdef"), "label": [0, 0, 0, 1, 3, 0], "prediction": [1, 1, 1, 1, 0, 0]})
    captions = {"a": "a red boat on water.", "b": "a cup on a table.", "c": "a boat and a cup.", "d": "a boat.",
                "e": "a photo of a red cup.", "f": "a boat on sand."}
    kw = keywords(cup=["red boat", "boat", "table"], mug=["cup"], boat=["water"])
    flags = D.flag(preds, captions, kw, CLASSES)
    # a: "red boat" names boat (strongest first); b: no keyword naming boat in its caption; c: "boat";
    # d, f: predicted right; e: mug predicted cup, its caption says cup (an ambiguity)
    assert flags["key"].tolist() == ["a", "c", "e"]
    assert flags["keyword"].tolist() == ["red boat", "boat", "cup"]
    assert D.flag(preds, captions, keywords(cup=[], mug=[], boat=[]), CLASSES).empty


def test_score_precision_and_recall_per_kind():
    preds = pd.DataFrame({"key": list("abcdefgh"), "label": [0] * 6 + [3, 3], "prediction": [1, 1, 1, 0, 1, 1, 0, 2]})
    t = lambda e, syn=None: {"error": e, "synonym": syn}  # noqa: E731
    truth = {"a": t("mislabeled"), "b": t("mislabeled"), "c": t(""), "d": t("mislabeled"), "e": t(""), "f": t(""),
             "g": t("ambiguous", "cup"), "h": t("ambiguous", "cup")}
    flags = pd.DataFrame({"key": ["a", "c", "g", "h"]})
    s = D.score(flags, preds, truth, CLASSES)
    # right: a (mislabeled) and g (a mug predicted as its synonym cup); c is clean, h a mug predicted "wild boar"
    assert s["precision"] == pytest.approx(2 / 4) and s["n_planted"] == 5 and s["n_flagged"] == 4
    m = s["recall"]["mislabeled"]
    assert (m["n"], m["n_visible"], m["n_flagged"]) == (3, 2, 1)        # d was predicted as its label
    assert m["recall"] == pytest.approx(1 / 3) and m["recall_of_visible"] == pytest.approx(1 / 2)
    a = s["recall"]["ambiguous"]
    assert (a["n"], a["n_visible"], a["n_flagged"], a["recall_of_visible"]) == (2, 1, 1, 1.0)
    assert s["right"] == ["a", "g"]
    assert D.score(flags, preds, None) == {"precision": None, "recall": {}, "n_flagged": 4}
    assert D.score(pd.DataFrame({"key": []}), preds, truth, CLASSES)["precision"] is None


def test_planted_truth_from_metadata():
    metas = [json.dumps({"label": 0, "label_error": "mislabeled"}),
             json.dumps({"label": 3, "label_error": "ambiguous", "synonym": "cup"})]
    assert D.planted_truth(metas, ["a", "b"]) == {"a": {"error": "mislabeled", "synonym": None},
                                                  "b": {"error": "ambiguous", "synonym": "cup"}}
    assert D.planted_truth([json.dumps({"label": 0})], ["a"]) is None   # real data: no truth


def test_table_writer(tmp_path):
    import numpy as np
    from types import SimpleNamespace

    from vlmbias.core.io import write_json
    from vlmbias.tables import registry
    from vlmbias.tables.registry import TableJob

    run = {"task": "imagenet", "dataset": "imagenet_noisy", "split": "val", "classes": CLASSES, "n_images": 8,
           "n_mispredicted": 4, "planted_truth": True, "n_flagged": 2, "n_planted": 3, "precision": 0.5,
           "recall": {"mislabeled": {"n": 2, "n_visible": 2, "n_flagged": 1, "recall": 0.5, "recall_of_visible": 0.5}},
           "pairs": [{"keyword": "boat", "label": "cup", "prediction": "boat", "n": 2, "planted": 1,
                      "caption": "a boat.", "keys": ["a", "b"]}],
           "examples": [{"key": k, "keyword": "boat", "label": "cup", "prediction": "boat", "caption": "a boat.",
                         "error": e} for k, e in (("a", "mislabeled"), ("b", ""))]}
    write_json(str(tmp_path / "d.json"), run)
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 16, 16, 3), np.uint8), keys=np.array(["a", "b"]))
    out = SimpleNamespace(csv=str(tmp_path / "t.csv"), md=str(tmp_path / "t.md"), png=str(tmp_path / "t.png"))
    job = TableJob("t13_b2t_label_diagnosis", SimpleNamespace(run=str(tmp_path / "d.json"), images=str(tmp_path / "d.npz")),
                   out, SimpleNamespace(table="t13_b2t_label_diagnosis"), {"datasets": {}, "b2t": {}})
    df = registry.write(job)
    assert df.loc[0, "keyword"] == "boat" and df.loc[0, "planted_errors_found"] == 1
    assert list(df["reported"]) == ["", "yes", "yes", "yes", "yes"] and "bee" in set(df["keyword"])
    md = (tmp_path / "t.md").read_text()
    assert "precision 50.0%" in md and "mislabeled: 1 of 2 flagged" in md
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"

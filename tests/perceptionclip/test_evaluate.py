"""PerceptionCLIP's evaluation from cached embeddings and head files (no model): rows per
setting and mode, tau chosen on val only, attribute inference against the metadata, and the
table writer."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from vlmbias.core.io import save_npz
from vlmbias.perceptionclip import infer as I
from vlmbias.perceptionclip import prompts as P
from vlmbias.perceptionclip.run import evaluate
from vlmbias.tables import registry
from vlmbias.tables.registry import TableJob

D = 8
TASK = {"dataset": "waterbirds", "split": "test", "val_split": "val", "preprocess": "clip", "world": "waterbirds",
        "group_attribute": "place", "generic": "bird", "classes": ["landbird", "waterbird"], "attributes": "official",
        "main_template": "a photo of a {c}", "truth": {"simple_background": {"field": "place", "values": {"land": 0, "water": 1}}}}


def embeddings(path, n, seed):
    """Images = class direction + background direction + noise; labels y, place g balanced."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    place = (torch.arange(n) // 2) % 2
    x = torch.zeros(n, D)
    x[:, 0] = 2 * y - 1                  # the bird
    x[:, 1] = 2.5 * (2 * place - 1)      # the background, louder
    x += 0.8 * torch.randn(n, D, generator=g)
    meta = [json.dumps({"label": int(a), "place": int(b)}) for a, b in zip(y, place)]
    save_npz(path, {"features": x.numpy().astype(np.float32), "labels": y.numpy().astype(np.int64),
                    "keys": np.array([f"k{i}" for i in range(n)]), "metadata": np.array(meta),
                    "info": np.array(json.dumps({"model": "fake"}))})


def head(path, setting, mode, factors, rows):
    ps = P.prompt_set("a photo of a {c}", ["landbird", "waterbird"], P.official_dictionary("waterbirds"), factors,
                      "bird" if mode == "pure_attr" else None)
    torch.save({"weights": 10 * F.normalize(torch.tensor(np.array(rows), dtype=torch.float32), dim=-1), "model": "fake",
                **ps, "task": "waterbirds", "setting": setting, "factors": factors}, path)
    return str(path)


@pytest.fixture
def files(tmp_path):
    embeddings(tmp_path / "test.npz", 200, 0)
    embeddings(tmp_path / "val.npz", 200, 1)
    e = np.eye(D)
    heads = [
        # without Z: the class text leans towards its usual background (a biased CLIP)
        head(tmp_path / "none.pt", "none", "class_attr", [], [e[0] * -1 + e[1] * -1.5, e[0] + e[1] * 1.5]),
        # with Z = {land, water}: one row per (class, background), class-major
        head(tmp_path / "bg.pt", "background", "class_attr", ["simple_background"],
             [-e[0] - e[1], -e[0] + e[1], e[0] - e[1], e[0] + e[1]]),
        head(tmp_path / "bg_pure.pt", "background", "pure_attr", ["simple_background"], [-e[1], e[1]]),
    ]
    return tmp_path, heads


def test_rows_tau_on_val_and_inference(files):
    tmp, heads = files
    out = evaluate(str(tmp / "test.npz"), str(tmp / "val.npz"), heads, TASK, [0.5, 1, 3], "val",
                   ["class_attr", "pure_attr"], str(tmp / "out.json"), log=lambda *_: None)
    rows = {(r["setting"], r["mode"]): r for r in out["rows"]}
    assert set(rows) == {("none", "zero_shot"), ("background", "class_attr"), ("background", "pure_attr")}
    assert rows[("none", "zero_shot")]["z_size"] == 1 and rows[("none", "zero_shot")]["tau"] == 1.0
    # conditioning on the background removes the background's pull on the class: worst group up
    assert rows[("background", "class_attr")]["eval"]["worst"] > rows[("none", "zero_shot")]["eval"]["worst"] + 10
    # tau: the best val worst-group accuracy, read from the val metrics only
    sweep = [s for s in out["sweep"] if (s["setting"], s["mode"], s["split"]) == ("background", "pure_attr", "val")]
    best = max((round(s["worst"], 9), round(s["avg"], 9)) for s in sweep)
    ties = [s["tau"] for s in sweep if (round(s["worst"], 9), round(s["avg"], 9)) == best]
    assert rows[("background", "pure_attr")]["tau"] == min(ties, key=lambda t: abs(np.log(t)))  # then nearest 1
    assert len(out["sweep"]) == 2 * 3 * 2 + 2
    # the background is loud: P(z|x) finds it
    inf = rows[("background", "pure_attr")]["inference"]["simple_background"]
    assert inf["values"] == ["land", "water"] and inf["acc"] > 90 and set(inf["cells"]) == {"0/0", "0/1", "1/0", "1/1"}
    assert json.loads((tmp / "out.json").read_text())["group_sizes"] == {"0/0": 50, "0/1": 50, "1/0": 50, "1/1": 50}


def test_fixed_tau_and_modes(files):
    tmp, heads = files
    out = evaluate(str(tmp / "test.npz"), str(tmp / "val.npz"), heads, TASK, [0.5, 1, 3], 3, ["class_attr"],
                   str(tmp / "out.json"), log=lambda *_: None)
    assert {(r["setting"], r["mode"], r["tau"]) for r in out["rows"]} == {("none", "zero_shot", 1.0),
                                                                          ("background", "class_attr", 3.0)}
    # ClassAttr at tau 1 is the logsumexp ensemble of the head's scores
    out1 = evaluate(str(tmp / "test.npz"), str(tmp / "val.npz"), heads, TASK, [1], 1, ["class_attr"],
                    str(tmp / "out1.json"), log=lambda *_: None)
    from vlmbias.clip.embed import load_embeddings
    emb = load_embeddings(str(tmp / "test.npz"))
    f = I.scores(emb.features, torch.load(heads[1])["weights"]).view(-1, 2, 2)
    pred = torch.logsumexp(f, 2).argmax(1)
    acc = 100 * float((pred == emb.labels).double().mean())
    assert next(r for r in out1["rows"] if r["mode"] == "class_attr")["eval"]["avg"] == pytest.approx(acc)


def test_table_writer(files, tmp_path):
    tmp, heads = files
    evaluate(str(tmp / "test.npz"), str(tmp / "val.npz"), heads, TASK, [0.5, 1, 3], "val",
             ["class_attr", "pure_attr"], str(tmp / "fake.json"), log=lambda *_: None)
    config = {"datasets": {"waterbirds": {"toy": "waterbirds"}}, "perceptionclip": {"waterbirds": TASK}}
    out = SimpleNamespace(csv=str(tmp_path / "t.csv"), md=str(tmp_path / "t.md"), sweep=str(tmp_path / "s.csv"),
                          inference=str(tmp_path / "i.csv"), png=str(tmp_path / "t.png"))
    job = TableJob("t16_perceptionclip_waterbirds", SimpleNamespace(runs=[str(tmp / "fake.json")]), out,
                   SimpleNamespace(table="t16_perceptionclip_waterbirds", models=["fake"], backbones={}), config)
    df = registry.write(job)
    assert list(df["setting"]) == ["none", "background", "background"]
    assert df.loc[0, "reported_avg (RN50)"] == 90.47 and df.loc[0, "reported_worst (ViT-L/14)"] == 44.64
    assert df.loc[1, "reproduced_worst (fake)"] > df.loc[0, "reproduced_worst (fake)"]
    md = (tmp_path / "t.md").read_text()
    assert "raised the worst group" in md and "never looked at" in md
    assert len(pd.read_csv(tmp_path / "s.csv")) == 14 and len(pd.read_csv(tmp_path / "i.csv")) == 2
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"

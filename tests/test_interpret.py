"""The TextSpan family's steps after the decomposition pass (vlmbias/interpret.py), on a tiny
random CLIP: ablations, TextSpan heads, Waterbirds head ablation, tables."""

import json

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from vlmbias import decompose as D
from vlmbias import interpret as I
from vlmbias import textspan_config as TC
from vlmbias import textspan as T
from test_decompose import tiny_clip


@pytest.fixture(scope="module")
def decomposed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interp")
    torch.set_num_threads(1)
    model = tiny_clip(seed=5)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 32, 32, generator=g)
    labels = torch.arange(16) % 2
    loader = [(x[i:i + 8], labels[i:i + 8]) for i in (0, 8)]
    fold, stats, data = D.decompose_dataset(model, loader, [1, 2], "cpu", torch.float32)
    W = F.normalize(torch.randn(32, 2, generator=g), dim=0)
    meta = [json.dumps({"label": int(y), "place": (i // 2) % 2}) for i, y in enumerate(labels.tolist())]
    dec = {"fold": fold.state(), "stats": stats.state(), "data": data, "classifier": W,
           "classnames": ["landbird", "waterbird"], "keys": [f"k{i}" for i in range(16)], "metadata": meta,
           "dataset": "waterbirds", "split": "test", "model": "tiny", "weights": "random", "sample_dir": str(tmp),
           "cov_layers": [1, 2], "info": {}}
    path = tmp / "decomposition.pt"
    torch.save(dec, path)
    texts = [f"Photo taken on {p}" for p in ("water", "sand", "grass", "a lake")] + \
            [f"A {c} ball" for c in ("red", "blue", "green", "pink", "black", "white")]
    pool = {"texts": texts, "categories": [None] * len(texts), "pool": "test",
            "embeddings": F.normalize(torch.randn(len(texts), 32, generator=g), dim=-1)}
    pool_path = tmp / "pool.pt"
    torch.save(pool, pool_path)
    return tmp, path, pool_path


def test_ablations_heads_waterbirds_tables(decomposed, tmp_path):
    tmp, path, pool_path = decomposed
    abl = I.run_ablations(str(path), str(tmp_path / "abl.json"), log=lambda *_: None)
    assert len(abl["msa_accumulated"]) == 4 and abl["msa_accumulated"][0] == abl["base_acc"]
    ts = {"texts_per_head": 3, "rank": 80, "top_k": 4, "device": "cpu"}
    hs = I.run_heads(str(path), str(pool_path), ts, str(tmp_path / "heads.json"), str(tmp_path / "heads.pt"),
                     log=lambda *_: None)
    assert len(hs["heads"]) == 8 and hs["layers"] == [1, 2]
    for h in hs["heads"]:
        assert len(h["texts"]) == 3 and len(h["top_images"]) == 4
        assert 0 < h["explained"][0] <= h["explained"][-1] <= 1 + 1e-9
    assert len(hs["replaced_acc_per_m"]) == 3
    assert hs["accuracy"]["base"] == abl["base_acc"]
    # replacement with a span of the whole output space is no replacement at all
    d = I.load_decomposition(str(path))
    full = [{"layer": l, "head": h, "directions": torch.eye(32, dtype=torch.float64)} for l in (1, 2) for h in range(4)]
    a = T.replaced_logits(d["data"], d["fold"], d["stats"], d["classifier"], full, [0])
    b = T.ablation_logits(d["data"], d["fold"], d["stats"], d["classifier"], layers=[0])
    assert torch.allclose(a, b, atol=1e-5)

    wb = {"place_keywords": ["water", "sand", "grass", "lake"], "top_texts": 2, "min_share": 0.5,
          "max_heads": None, "random_repeats": 3, "group_attribute": "place"}
    out = I.run_waterbirds(str(path), str(tmp_path / "heads.json"), wb, 0, str(tmp_path / "wb.json"),
                           log=lambda *_: None)
    assert set(out["group_sizes"]) == {"0/0", "0/1", "1/0", "1/1"}
    for h in out["selected"]:
        assert sum(T.matches_keywords(t, wb["place_keywords"]) for t in h["texts"]) >= 1
    if out["selected"]:
        assert len(out["random"]) == 3 and all(len(r["heads"]) == len(out["selected"]) for r in out["random"])
        assert out["results"]["random_heads_max"]["worst"] == max(r["worst"] for r in out["random"])

    config = {"clip": {"models": {"tiny": {"open_clip": "ViT-B-16"}}}, "datasets": {"waterbirds": {"toy": "waterbirds"}}}
    t18 = I.write_t18(config, [abl], str(tmp_path / "t18.csv"), str(tmp_path / "t18.md"))
    assert t18["reported_base_acc"].iloc[0] == 70.22 and t18["reported_mlp_ablated_acc"].iloc[0] == 67.04
    f19 = I.write_f19(config, [abl], str(tmp_path / "f19.csv"), str(tmp_path / "f19.md"), str(tmp_path / "f19.png"))
    assert len(f19) == 4 and (tmp_path / "f19.png").stat().st_size > 0
    t22 = I.write_t22(config, [out], str(tmp_path / "t22.csv"), str(tmp_path / "t22.md"))
    assert t22["setting"].iloc[0].startswith("base")
    md = (tmp_path / "t22.md").read_text()
    assert "place head" in md and ("raised" in md or "NOT" in md or "NO place head" in md)
    assert pd.read_csv(tmp_path / "t18.csv").shape[0] == 1


def test_table_ids_and_config_check(toy_config):
    assert TC.enabled_tables(toy_config) == list(TC.TABLE_IDS)
    assert "results/figures/t20_textspan_heads_toy_vit.png" in TC.figure_paths(toy_config)
    TC.check(toy_config)
    bad = dict(toy_config, textspan=dict(toy_config["textspan"], models=["nope"]))
    with pytest.raises(ValueError, match="nope"):
        TC.check(bad)
    bad = dict(toy_config, textspan=dict(toy_config["textspan"], pool="/no/such/pool.txt"))
    with pytest.raises(ValueError, match="pool.txt"):
        TC.check(bad)

"""The TextSpan family's steps after the decomposition pass (vlmbias/textspan/analyses.py), on a
tiny random CLIP: ablations, TextSpan heads, Waterbirds head ablation, tables."""

import json
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from test_decompose import tiny_clip

from vlmbias.core.config import ConfigError
from vlmbias.tables import registry
from vlmbias.tables.registry import TableJob
from vlmbias.textspan import analyses as A
from vlmbias.textspan import decompose as D
from vlmbias.textspan import plan
from vlmbias.textspan import span as T


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
           "dataset": "waterbirds", "split": "test", "model": "tiny", "weights": "random",
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
    abl = A.run_ablations(str(path), str(tmp_path / "abl.json"), log=lambda *_: None)
    assert len(abl["msa_accumulated"]) == 4 and abl["msa_accumulated"][0] == abl["base_acc"]
    ts = {"texts_per_head": 3, "rank": 80, "top_k": 4, "device": "cpu"}
    hs = A.run_heads(str(path), str(pool_path), ts, str(tmp_path / "heads.json"), str(tmp_path / "heads.pt"),
                     log=lambda *_: None)
    assert len(hs["heads"]) == 8 and hs["layers"] == [1, 2]
    for h in hs["heads"]:
        assert len(h["texts"]) == 3 and len(h["top_images"]) == 4
        assert 0 < h["explained"][0] <= h["explained"][-1] <= 1 + 1e-9
    assert len(hs["replaced_acc_per_m"]) == 3
    assert hs["accuracy"]["base"] == abl["base_acc"]
    # replacement with a span of the whole output space is no replacement at all
    d = D.load(str(path))
    full = [{"layer": l, "head": h, "directions": torch.eye(32, dtype=torch.float64)} for l in (1, 2) for h in range(4)]
    a = T.replaced_logits(d["data"], d["fold"], d["stats"], d["classifier"], full, [0])
    b = T.ablation_logits(d["data"], d["fold"], d["stats"], d["classifier"], layers=[0])
    assert torch.allclose(a, b, atol=1e-5)

    wb = {"place_keywords": ["water", "sand", "grass", "lake"], "top_texts": 2, "min_share": 0.5,
          "max_heads": None, "random_repeats": 3, "group_attribute": "place"}
    out = A.run_waterbirds(str(path), str(tmp_path / "heads.json"), wb, 0, str(tmp_path / "wb.json"),
                           log=lambda *_: None)
    assert set(out["group_sizes"]) == {"0/0", "0/1", "1/0", "1/1"}
    for h in out["selected"]:
        assert sum(T.matches_keywords(t, wb["place_keywords"]) for t in h["texts"]) >= 1
    if out["selected"]:
        assert len(out["random"]) == 3 and all(len(r["heads"]) == len(out["selected"]) for r in out["random"])
        assert out["results"]["random_heads_max"]["worst"] == max(r["worst"] for r in out["random"])

    config = {"clip": {"models": {"tiny": {"open_clip": "ViT-B-16"}}}, "datasets": {"waterbirds": {"toy": "waterbirds"}}}

    def write(table_id, result, png=False):
        out = {"csv": str(tmp_path / f"{table_id}.csv"), "md": str(tmp_path / f"{table_id}.md")}
        if png:
            out["png"] = str(tmp_path / f"{table_id}.png")
        return registry.write(TableJob(table_id, SimpleNamespace(runs=[result]), SimpleNamespace(**out),
                                       SimpleNamespace(table=table_id), config))

    json_path = {"abl": tmp_path / "abl.json", "wb": tmp_path / "wb.json"}
    t18 = write("t18_textspan_mlp_ablation", json_path["abl"])
    assert t18["reported_base_acc"].iloc[0] == 70.22 and t18["reported_mlp_ablated_acc"].iloc[0] == 67.04
    f19 = write("f19_textspan_msa_ablation", json_path["abl"], png=True)
    assert len(f19) == 4 and (tmp_path / "f19_textspan_msa_ablation.png").stat().st_size > 0
    t22 = write("t22_textspan_waterbirds", json_path["wb"])
    assert t22["setting"].iloc[0].startswith("base")
    md = (tmp_path / "t22_textspan_waterbirds.md").read_text()
    assert "place head" in md and ("raised" in md or "NOT" in md or "NO place head" in md)
    assert pd.read_csv(tmp_path / "t18_textspan_mlp_ablation.csv").shape[0] == 1


def test_table_ids_and_config_check(toy_config):
    assert registry.enabled(toy_config, family="textspan") == registry.ids(family="textspan")
    assert "results/figures/t20_textspan_heads_toy_vit.png" in registry.figure_paths(toy_config)
    no_wb = dict(toy_config, textspan=dict(toy_config["textspan"], waterbirds=None))
    assert "t22_textspan_waterbirds" not in registry.enabled(no_wb)
    plan.check(toy_config)
    bad = dict(toy_config, textspan=dict(toy_config["textspan"], models=["nope"]))
    with pytest.raises(ConfigError, match="nope"):
        plan.check(bad)
    bad = dict(toy_config, textspan=dict(toy_config["textspan"], pool="/no/such/pool.txt"))
    with pytest.raises(ConfigError, match="pool.txt"):
        plan.check(bad)

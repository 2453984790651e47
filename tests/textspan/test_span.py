"""TextSpan in covariance form vs the paper's algorithm; the toy text pool; head selection."""

import pytest
import torch
import torch.nn.functional as F

from vlmbias import toyworld
from vlmbias.textspan import pool
from vlmbias.textspan import span as T


def random_head(seed, K=300, d=24, M=120):
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(3.0, 0.2, d, dtype=torch.float64)
    X = torch.randn(K, d, generator=g, dtype=torch.float64) @ torch.diag(scales) + 0.5
    R = F.normalize(torch.randn(M, d, generator=g, dtype=torch.float64), dim=-1)
    return X, R


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rank", [16, 80])
def test_covariance_form_chooses_the_same_texts(seed, rank):
    X, R = random_head(seed)
    m = 12
    direct, recon = T.textspan_direct(X, R, m, rank)
    K = X.shape[0]
    res = T.textspan_cov(torch.cov(X.T), R, m, second_moment=X.T @ X / K, rank=rank, n_images=K)
    assert res.indices == direct
    mean = X.mean(0)
    ours = mean + (X - mean) @ res.directions.T @ res.directions
    assert torch.allclose(ours, recon, atol=1e-10)
    # V_explained / V_total of the chosen span, computed on the data
    Xc = X - mean
    ev = float((Xc @ res.directions.T).pow(2).sum() / Xc.pow(2).sum())
    assert res.explained[-1] == pytest.approx(ev, rel=1e-9)
    assert all(a <= b + 1e-12 for a, b in zip(res.explained, res.explained[1:]))
    assert torch.allclose(res.directions @ res.directions.T, torch.eye(m, dtype=torch.float64), atol=1e-10)


def test_batched_heads_equal_single():
    heads = [random_head(s, K=200, d=16, M=60) for s in range(3)]
    R = heads[0][1]
    covs = torch.stack([torch.cov(X.T) for X, _ in heads])
    sms = torch.stack([X.T @ X / 200 for X, _ in heads])
    batched = T.textspan_cov(covs, R, 6, second_moment=sms, rank=12, n_images=200)
    for i in range(3):
        single = T.textspan_cov(covs[i], R, 6, second_moment=sms[i], rank=12, n_images=200)
        assert batched[i].indices == single.indices
        assert batched[i].explained == pytest.approx(single.explained)


def test_planted_text_directions_come_first():
    g = torch.Generator().manual_seed(0)
    d, M = 32, 200
    R = F.normalize(torch.randn(M, d, generator=g, dtype=torch.float64), dim=-1)
    planted = [17, 123, 64]
    coef = torch.randn(2000, 3, generator=g, dtype=torch.float64) * torch.tensor([5.0, 3.0, 2.0], dtype=torch.float64)
    X = coef @ R[planted] + 0.05 * torch.randn(2000, d, generator=g, dtype=torch.float64)
    res = T.textspan_cov(torch.cov(X.T), R, 3, second_moment=X.T @ X / 2000, rank=32, n_images=2000)
    assert sorted(res.indices) == sorted(planted)
    assert res.explained[-1] > 0.99


def test_basis_larger_than_head_subspace_is_refused():
    X, R = random_head(0, d=8, M=20)
    with pytest.raises(T.TextSpanError, match="rank 4"):
        T.textspan_cov(torch.cov(X.T), R, 5, second_moment=X.T @ X, rank=4)
    with pytest.raises(T.TextSpanError, match="dimension"):
        T.textspan_cov(torch.cov(X.T), R[:, :4], 2)


def test_toy_pool_is_larger_than_and_not_the_caption_set():
    texts_by_category = pool.text_pool()
    texts = [t for _, t in texts_by_category]
    assert len(texts) == len(set(texts)) and len(texts) > 300
    cats = {c for c, _ in texts_by_category}
    assert {"colour", "object", "place", "count", "style"} <= cats
    vocab = toyworld.vocabulary()
    assert set(toyworld.OBJECT_CLASSES) <= set(vocab["object"])
    # the captions of the ImageNet-like source, a seeded sample of them
    captions = set()
    for i in range(60):
        cap = toyworld.render("imagenet", i, 32, 0)[1]
        captions.add(cap)
    assert not captions & set(texts)
    assert len(texts) > len(captions)
    assert pool.text_pool() == texts_by_category  # deterministic


def test_pool_file(tmp_path):
    p = tmp_path / "pool.txt"
    p.write_text("# a comment\nPhoto taken in Spain\n\nA bowl\nPhoto taken in Spain\n")
    assert pool.read_pool(str(p)) == ["Photo taken in Spain", "A bowl"]
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(T.TextSpanError, match="empty.txt"):
        pool.read_pool(str(tmp_path / "empty.txt"))


def test_place_head_rule():
    heads = [
        {"layer": 2, "head": 0, "texts": ["Photo taken on water", "A red ball", "A scene set on sand"],
         "explained": [0.5]},
        {"layer": 2, "head": 1, "texts": ["A red ball", "The number two", "A blue cup"], "explained": [0.6]},
        {"layer": 1, "head": 3, "texts": ["Photo taken on grass", "An image with a water background", "A cup"],
         "explained": [0.4]},
    ]
    kw = ["water", "sand", "grass"]
    sel = T.select_heads(heads, kw, top_texts=3, min_share=0.5)
    assert [(h["layer"], h["head"]) for h in sel] == [(2, 0), (1, 3)]  # equal share: more variance first
    assert T.select_heads(heads, kw, top_texts=3, min_share=0.6, max_heads=1)[0]["head"] == 0
    assert T.select_heads(heads, kw, top_texts=1, min_share=1.0) == [dict(heads[0], keyword_share=1.0),
                                                                     dict(heads[2], keyword_share=1.0)]
    assert not T.matches_keywords("Sandy", ["sand"])  # whole words only


def test_group_accuracies():
    logits = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 1])
    groups = torch.tensor([0, 0, 1, 1])
    g = T.group_accuracies(logits, labels, groups)
    assert g["avg"] == 50.0 and g["worst"] == 0.0
    assert g["groups"] == {"0/0": 100.0, "1/0": 0.0, "1/1": 50.0}

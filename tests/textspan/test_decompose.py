"""Exact head/token decomposition of open_clip ViTs (vlmbias/textspan/decompose.py)."""

import pytest
import torch
import torch.nn.functional as F

from vlmbias.clip.load import load_clip
from vlmbias.textspan import decompose as D
from vlmbias.textspan import span as T


def tiny_clip(seed=0, layers=3, ls=None, image_size=32, patch=8):
    from open_clip.model import CLIP

    torch.manual_seed(seed)
    vision = dict(image_size=image_size, patch_size=patch, width=48, layers=layers, head_width=12)
    if ls is not None:
        vision["ls_init_value"] = ls
    m = CLIP(32, vision, dict(context_length=16, vocab_size=100, width=32, heads=4, layers=1)).eval()
    with torch.no_grad():  # non-trivial LN affine and biases, so every folded term matters
        for p in m.visual.parameters():
            if p.dim() == 1:
                p.add_(0.3 * torch.randn_like(p))
    return m


def check_exact_sum(model, x, tol=1e-5):
    dec = D.Decomposer(model, tokens=True)
    b = dec(x)
    c = D.contributions(b, dec.fold)
    total = c["heads"].sum((1, 2)) + c["mlps"].sum(1)
    with torch.no_grad():
        ref = F.normalize(model.encode_image(x), dim=-1)
    assert (total - ref).abs().max() < tol
    assert (b.embedding - ref).abs().max() < tol
    # per-layer (heads summed) and per-token views of the same terms
    lay = D.phi_layers(b.heads, b.mu, b.sigma, b.norm, dec.fold)
    assert torch.allclose(lay, c["heads"].sum(2), atol=tol)
    tok = D.phi_tokens(b.tokens, b.mu, b.sigma, b.norm, dec.fold)
    assert torch.allclose(tok.sum(1), c["heads"].sum((1, 2)), atol=tol)
    one = D.phi_tokens(b.tokens, b.mu, b.sigma, b.norm, dec.fold, heads=[(dec.fold.layers - 1, 1)])
    assert torch.allclose(one.sum(1), c["heads"][:, -1, 1], atol=tol)
    return b, c, dec


def test_exact_sum_tiny(one_thread):
    check_exact_sum(tiny_clip(), torch.randn(3, 3, 32, 32))


def test_exact_sum_layer_scale(one_thread):
    check_exact_sum(tiny_clip(seed=1, ls=0.5), torch.randn(2, 3, 32, 32))


def test_exact_sum_toy_config(one_thread):
    bundle = load_clip({"open_clip": "vlmbias-toy-vit"})
    s = bundle.image_size
    check_exact_sum(bundle.model, torch.randn(2, 3, s, s))


def test_exact_sum_vit_b16(one_thread):
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-16", pretrained=None).eval()
    x = torch.randn(2, 3, 224, 224)
    dec = D.Decomposer(model)
    b = dec(x)
    c = D.contributions(b, dec.fold)
    with torch.no_grad():
        ref = F.normalize(model.encode_image(x), dim=-1)
    assert (c["heads"].sum((1, 2)) + c["mlps"].sum(1) - ref).abs().max() < 1e-5
    assert b.heads.shape == (2, 12, 12, 64) and dec.fold.n_tokens == 197


def test_cls_row_equals_reference_head_mode(one_thread):
    model = tiny_clip(seed=2)
    blk = model.visual.transformer.resblocks[1]
    seen = {}
    h = blk.ln_1.register_forward_hook(lambda m, i, o: seen.__setitem__("z", o))
    b = D.Decomposer(model)(torch.randn(2, 3, 32, 32))
    h.remove()
    with torch.no_grad():
        ref = D.reference_layer_terms(blk, seen["z"])[:, 0].sum(1)  # CLS query, summed over sources
    H, dh = blk.attn.num_heads, 12
    Wo = blk.attn.out_proj.weight.view(48, H, dh)
    ours = torch.einsum("bhe,dhe->bhd", b.heads[:, 1], Wo)
    assert torch.allclose(ours, ref, atol=1e-6)


def _loader(x, bs):
    return [(x[i:i + bs], torch.arange(i, min(len(x), i + bs))) for i in range(0, len(x), bs)]


def test_streaming_stats_equal_batch(one_thread):
    model = tiny_clip(seed=3)
    x = torch.randn(10, 3, 32, 32)
    fold, stats, data = D.decompose_dataset(model, _loader(x, 3), cov_layers=[1, 2], device="cpu",
                                            store_dtype=torch.float32)
    dec = D.Decomposer(model)
    b = dec(x)
    c = D.contributions(b, dec.fold)
    hd = c["heads"].double()
    assert stats.n == 10
    assert torch.allclose(stats.mean_heads, hd.mean(0), atol=1e-7)
    assert torch.allclose(stats.mean_mlps, c["mlps"].double().mean(0), atol=1e-7)
    for l in (1, 2):
        for h in range(4):
            assert torch.allclose(stats.covariance(l, h), torch.cov(hd[:, l, h].T), atol=1e-8)
            assert torch.allclose(stats.second_moment(l, h), hd[:, l, h].T @ hd[:, l, h] / 10, atol=1e-8)
    with pytest.raises(D.DecompositionError, match="layer 0"):
        stats.covariance(0)
    # two partial passes merged = one pass
    _, s1, _ = D.decompose_dataset(model, _loader(x[:4], 4), [1, 2], "cpu")
    _, s2, _ = D.decompose_dataset(model, _loader(x[4:], 2), [1, 2], "cpu")
    merged = s1.merge(s2)
    assert torch.allclose(merged.m2_heads, stats.m2_heads, atol=1e-8)
    # stored per-image data rebuilds every head exactly (fp32 store) / closely (fp16 store)
    assert torch.equal(data["labels"], torch.arange(10))
    rebuilt = D.phi_heads(data["heads"], data["mu"], data["sigma"], data["norm"], fold)
    assert torch.allclose(rebuilt, c["heads"], atol=1e-6)
    assert torch.allclose(data["mlp_sum"], c["mlps"].sum(1), atol=1e-6)
    _, _, d16 = D.decompose_dataset(model, _loader(x, 5), [2], "cpu")
    assert d16["heads"].dtype == torch.float16
    r16 = D.phi_heads(d16["heads"], d16["mu"], d16["sigma"], d16["norm"], fold)
    assert (r16 - c["heads"]).abs().max() < 2e-3
    per_image = sum(v[0].numel() * v.element_size() for k, v in d16.items() if k != "labels")
    assert per_image == D.Store.bytes_per_image(fold, torch.float16)
    assert per_image * 20 < D.reference_bytes_per_image(fold)["transient_per_layer"]


def test_mean_ablation_sanity(one_thread):
    model = tiny_clip(seed=4)
    x = torch.randn(6, 3, 32, 32)
    W = F.normalize(torch.randn(32, 5), dim=0)
    every_head = [(l, h) for l in range(3) for h in range(4)]
    # a one-image set: every mean is that image's own term, so ablating anything changes nothing
    fold, stats, data = D.decompose_dataset(model, _loader(x[:1], 1), [2], "cpu", torch.float32)
    base = data["embedding"] @ W
    for kw in ({"mlps": True}, {"layers": [0, 1, 2]}, {"heads": every_head}, {"mlps": True, "layers": [0, 2]}):
        assert torch.allclose(T.ablation_logits(data, fold, stats, W, **kw), base, atol=1e-5), kw
    # several images: ablating every component leaves each image the mean embedding
    fold, stats, data = D.decompose_dataset(model, _loader(x, 4), [2], "cpu", torch.float32)
    full = T.ablation_logits(data, fold, stats, W, mlps=True, layers=[0, 1, 2])
    mean_logits = (data["embedding"].mean(0) @ W)[None].expand_as(full)
    assert torch.allclose(full, mean_logits, atol=1e-5)
    assert torch.allclose(T.ablation_logits(data, fold, stats, W, heads=every_head), 
                          T.ablation_logits(data, fold, stats, W, layers=[0, 1, 2]), atol=1e-5)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    curve = T.accumulated_msa_curve(data, fold, stats, W, labels)
    assert len(curve) == 4
    assert curve[0] == T.accuracy(base := data["embedding"] @ W, labels)
    assert curve[-1] == T.accuracy(T.ablation_logits(data, fold, stats, W, layers=[0, 1, 2]), labels)
    assert curve[2] == T.accuracy(T.ablation_logits(data, fold, stats, W, layers=[0, 1]), labels)
    assert base.shape == (6, 5)


def test_unsupported_models_are_named():
    from open_clip.model import CLIP

    model = CLIP(32, dict(layers=(1, 1, 1, 1), width=16, image_size=32),
                 dict(context_length=16, vocab_size=100, width=32, heads=4, layers=1))
    with pytest.raises(D.DecompositionError, match="VisionTransformer"):
        D.Decomposer(model)
    m = tiny_clip()
    m.visual.train()
    with pytest.raises(D.DecompositionError, match="eval mode"):
        D.Decomposer(m)(torch.randn(1, 3, 32, 32))

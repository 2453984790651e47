"""vlmbias.dsc.mae: masking, loss, patches, official key names, checkpoints, training through fit."""

import argparse
import math

import numpy as np
import pytest
import torch
from timm.models.vision_transformer import VisionTransformer
from torch.utils.data import TensorDataset

from vlmbias.dsc import mae as M
from vlmbias.dsc import ssl_recipes as S
from vlmbias.train import recipe as R
from vlmbias.train.loop import fit
from vlmbias.train.objectives import LossFunction

# tiny models on a shared 2-core machine: one intra-op thread is much faster
pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(img_size=32, patch_size=4, embed_dim=32, depth=2, num_heads=2,
            decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return M.build_mae({**TINY, **kw})


def structured_images(n, size=32, seed=0):
    """A fixed random smooth template (a few sinusoids per channel) at a random per-image
    contrast and brightness, plus a little noise: the per-patch-normalised pixels depend on the
    position, which even a tiny MAE learns to predict within a few dozen steps."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    template = torch.zeros(3, size, size)
    for _ in range(3):
        scale = torch.tensor([4.0, 4.0, 6.28]).view(3, 1, 1, 1)  # frequencies x, y; phase
        fx, fy, ph = torch.rand(3, 3, 1, 1, generator=g) * scale
        wave = torch.sin(2 * math.pi * (fx * xx + fy * yy) + ph)
        template += torch.randn(3, 1, 1, generator=g) * wave
    contrast = torch.rand(n, 1, 1, 1, generator=g) + 0.5
    brightness = torch.randn(n, 1, 1, 1, generator=g)
    return contrast * template + brightness + 0.1 * torch.randn(n, 3, size, size, generator=g)


# -- masking --------------------------------------------------------------------------------------

@pytest.mark.parametrize("length,ratio,keep", [(64, 0.75, 16), (196, 0.75, 49), (64, 0.5, 32),
                                               (10, 0.0, 10)])
def test_random_masking_counts_and_restore(length, ratio, keep):
    torch.manual_seed(0)
    n, d = 6, 5
    x = torch.randn(n, length, d)
    x_masked, mask, ids_restore = M.MaskedAutoencoder.random_masking(x, ratio)
    assert x_masked.shape == (n, keep, d)
    assert mask.shape == (n, length) and set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (mask.sum(1) == length - keep).all()                       # exactly the share removed
    assert torch.equal(ids_restore.sort(1).values, torch.arange(length).expand(n, -1))
    # the decoder's unshuffle: kept tokens + placeholders, gathered by ids_restore, puts every
    # kept token back at its original position, and the placeholders where mask == 1
    filler = torch.full((n, length - keep, d), float("nan"))
    full = torch.gather(torch.cat([x_masked, filler], 1), 1,
                        ids_restore.unsqueeze(-1).expand(-1, -1, d))
    kept = mask == 0
    assert torch.equal(full[kept], x[kept])
    assert torch.isnan(full[~kept]).all()


def test_random_masking_is_per_sample_and_ratio_checked():
    torch.manual_seed(0)
    _, mask, _ = M.MaskedAutoencoder.random_masking(torch.zeros(8, 64, 2), 0.75)
    assert len({tuple(m.tolist()) for m in mask}) == 8
    with pytest.raises(ValueError, match="mask_ratio"):
        M.MaskedAutoencoder.random_masking(torch.zeros(1, 4, 2), 1.0)


# -- loss -----------------------------------------------------------------------------------------

def _pred_and_mask(model, imgs, seed=1):
    torch.manual_seed(seed)
    with torch.no_grad():
        latent, mask, ids_restore = model.forward_encoder(imgs)
        pred = model.forward_decoder(latent, ids_restore)
    return pred, mask


def _set_patch(model, imgs, sample, patch, value):
    patches = model.patchify(imgs).clone()
    patches[sample, patch] = value
    return model.unpatchify(patches)


def test_loss_only_on_removed_patches_and_equals_direct_computation():
    model = tiny()
    imgs = torch.randn(3, 3, 32, 32)
    pred, mask = _pred_and_mask(model, imgs)
    assert pred.shape == (3, 64, 4 * 4 * 3) and mask.shape == (3, 64)
    assert (mask.sum(1) == 48).all()
    loss = model.forward_loss(imgs, pred, mask)

    visible = int((mask[1] == 0).nonzero()[0])
    removed = int((mask[1] == 1).nonzero()[0])
    noise = torch.randn(48) * 5
    assert model.forward_loss(_set_patch(model, imgs, 1, visible, noise), pred, mask) == loss
    assert model.forward_loss(_set_patch(model, imgs, 1, removed, noise), pred, mask) != loss

    target = model.patchify(imgs)
    total, count = 0.0, 0
    for i in range(3):
        for k in range(64):
            if mask[i, k] == 1:
                t = target[i, k]
                t = (t - t.mean()) / math.sqrt(float(t.var(unbiased=True)) + 1e-6)
                total += float(((pred[i, k] - t) ** 2).mean())
                count += 1
    assert count == 3 * 48
    assert float(loss) == pytest.approx(total / count, rel=1e-5)
    # forward() is forward_encoder + forward_decoder + forward_loss under the same noise
    torch.manual_seed(1)
    loss2, pred2, mask2 = model(imgs)
    assert torch.allclose(loss2, loss) and torch.equal(mask2, mask)


def test_norm_pix_loss_normalises_each_patch():
    model = tiny()
    imgs = torch.randn(2, 3, 32, 32)
    pred, mask = _pred_and_mask(model, imgs)
    # an affine change of every patch with its own scale > 0 and shift leaves the loss unchanged
    patches = model.patchify(imgs)
    scale = torch.rand(2, 64, 1) * 3 + 0.5
    shift = torch.randn(2, 64, 1) * 10
    warped = model.unpatchify(patches * scale + shift)
    assert torch.allclose(model.forward_loss(warped, pred, mask),
                          model.forward_loss(imgs, pred, mask), rtol=1e-4)
    # predicting the per-patch standardised pixels gives (almost) zero loss
    t = patches
    exact = (t - t.mean(-1, keepdim=True)) / (t.var(-1, keepdim=True) + 1e-6) ** 0.5
    assert float(model.forward_loss(imgs, exact, mask)) < 1e-10
    # without norm_pix_loss the raw pixels are the target
    raw = tiny(norm_pix_loss=False)
    assert float(raw.forward_loss(imgs, patches, mask)) == 0.0
    assert float(raw.forward_loss(warped, patches, mask)) > 1.0


# -- patches, positions, names --------------------------------------------------------------------

def test_patchify_layout_and_round_trip():
    model = tiny()
    imgs = torch.randn(2, 3, 32, 32)
    patches = model.patchify(imgs)
    assert patches.shape == (2, 64, 48)
    # raster order; each patch flattened as (row, col, channel) like MAE
    assert torch.equal(patches[:, 0], imgs[:, :, 0:4, 0:4].permute(0, 2, 3, 1).reshape(2, -1))
    assert torch.equal(patches[:, 1], imgs[:, :, 0:4, 4:8].permute(0, 2, 3, 1).reshape(2, -1))
    assert torch.equal(patches[:, 8], imgs[:, :, 4:8, 0:4].permute(0, 2, 3, 1).reshape(2, -1))
    assert torch.equal(model.unpatchify(patches), imgs)
    with pytest.raises(ValueError):
        model.patchify(torch.zeros(1, 3, 30, 30))


def _mae_reference_sincos(embed_dim, grid_size):
    """The official util/pos_embed.py (numpy), for comparison."""
    def one_d(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
        omega = 1.0 / 10000**omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    grid = np.meshgrid(np.arange(grid_size, dtype=np.float32),
                       np.arange(grid_size, dtype=np.float32))  # here w goes first
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])
    emb = np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)
    return np.concatenate([np.zeros([1, embed_dim]), emb], axis=0)


def test_sincos_matches_official_and_is_frozen():
    ours = M.sincos_pos_embed_2d(32, 8).numpy()
    assert np.allclose(ours, _mae_reference_sincos(32, 8), atol=1e-6)
    assert (ours[0] == 0).all()
    model = tiny()
    assert torch.equal(model.encoder.pos_embed[0], M.sincos_pos_embed_2d(32, 8))
    assert torch.equal(model.decoder_pos_embed[0], M.sincos_pos_embed_2d(16, 8))
    assert not model.encoder.pos_embed.requires_grad and not model.decoder_pos_embed.requires_grad
    with pytest.raises(ValueError):
        M.sincos_pos_embed_2d(30, 4)


def _official_keys(depth, decoder_depth):
    block = ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
             "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
             "mlp.fc2.weight", "mlp.fc2.bias"]
    enc = {"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
           "norm.weight", "norm.bias"} | {f"blocks.{i}.{b}" for i in range(depth) for b in block}
    dec = {"mask_token", "decoder_embed.weight", "decoder_embed.bias", "decoder_pos_embed",
           "decoder_norm.weight", "decoder_norm.bias", "decoder_pred.weight", "decoder_pred.bias"}
    dec |= {f"decoder_blocks.{i}.{b}" for i in range(decoder_depth) for b in block}
    return enc, dec


def test_encoder_is_a_stock_timm_vit_with_official_keys():
    model = tiny()
    enc = M.encoder_of(model)
    assert type(enc) is VisionTransformer and enc is model.encoder
    assert enc.global_pool == "token" and enc.num_classes == 0 and enc.cls_token is not None
    enc_keys, dec_keys = _official_keys(2, 1)
    assert set(enc.state_dict()) == enc_keys
    assert set(M.to_official_state_dict(model)) == enc_keys | dec_keys
    x = torch.randn(2, 3, 32, 32)
    assert enc(x).shape == (2, 32)  # class token after the final norm
    inter = enc.forward_intermediates(x, indices=[0], intermediates_only=True, output_fmt="NLC")
    assert inter[0].shape == (2, 64, 32)
    assert M.encoder_of(enc) is enc
    with pytest.raises(TypeError):
        M.encoder_of(torch.nn.Linear(2, 2))


def test_initialisation_follows_mae():
    model = tiny()
    assert not model.decoder_embed.bias.detach().any()
    assert not model.encoder.blocks[0].attn.qkv.bias.detach().any()
    w = model.decoder_embed.weight.detach()  # xavier uniform: |w| <= sqrt(6 / (fan_in + fan_out))
    assert float(w.abs().max()) <= math.sqrt(6 / (32 + 16)) + 1e-6
    assert 0.01 < float(model.encoder.cls_token.detach().std()) < 0.04
    assert torch.equal(model.encoder.norm.weight, torch.ones(32))


def test_config_defaults_are_mae_vit_base():
    cfg = S.mae_config(None)
    assert cfg == dict(img_size=224, in_chans=3, patch_size=16, embed_dim=768, depth=12,
                       num_heads=12, decoder_embed_dim=512, decoder_depth=8,
                       decoder_num_heads=16, mlp_ratio=4.0, mask_ratio=0.75, norm_pix_loss=True)
    large = S.mae_config({"arch": "mae_vit_large_patch16", "img_size": 64})
    assert (large["embed_dim"], large["depth"], large["img_size"]) == (1024, 24, 64)
    with pytest.raises(ValueError, match="unknown MAE config"):
        S.mae_config({"dim": 3})
    with pytest.raises(ValueError, match="unknown MAE arch"):
        S.mae_config({"arch": "vit_tiny"})
    m = tiny(mask_ratio=0.5)
    assert m.mask_ratio == 0.5 and m.grid_size == (8, 8) and m.patch_size == 4


# -- checkpoints ----------------------------------------------------------------------------------

def _encoder_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_checkpoint_round_trip_official_layout_ignores_decoder(tmp_path):
    src, dst = tiny(seed=0), tiny(seed=1)
    assert not _encoder_equal(src.encoder, dst.encoder)
    path = tmp_path / "mae_official.pth"
    # the official training checkpoints: model + optimizer state + epoch + argparse args
    torch.save({"model": M.to_official_state_dict(src), "epoch": 799,
                "args": argparse.Namespace(model="mae_vit_base_patch16", norm_pix_loss=True)},
               path)
    dec_before = dst.decoder_pred.weight.clone()
    report = M.load_encoder_checkpoint(dst.encoder, str(path))
    assert _encoder_equal(src.encoder, dst.encoder)
    assert torch.equal(dst.decoder_pred.weight, dec_before)
    _, dec_keys = _official_keys(2, 1)
    assert set(report["ignored_decoder"]) == dec_keys
    assert report["missing"] == [] and report["unexpected"] == []
    assert set(report["loaded"]) == set(src.encoder.state_dict())
    assert not dst.encoder.pos_embed.requires_grad  # loading keeps the frozen embedding frozen

    # a raw encoder-only state dict (the released mae_pretrain_vit_base.pth layout) ...
    raw = tmp_path / "raw.pth"
    torch.save(src.encoder.state_dict(), raw)
    other = tiny(seed=2)
    assert M.load_encoder_checkpoint(other.encoder, str(raw))["ignored_decoder"] == []
    assert _encoder_equal(src.encoder, other.encoder)
    # ... and this project's own fit checkpoints (keys "encoder.*") load too
    own = tmp_path / "fit.pt"
    torch.save({"version": 1, "model": src.state_dict(), "state": {"step": 3}}, own)
    other = tiny(seed=3)
    M.load_encoder_checkpoint(other.encoder, str(own))
    assert _encoder_equal(src.encoder, other.encoder)


def test_checkpoint_errors_name_path_and_keys(tmp_path):
    wide = M.build_mae({**TINY, "embed_dim": 48, "num_heads": 2})
    path = tmp_path / "wide.pth"
    torch.save({"model": M.to_official_state_dict(wide)}, path)
    target = tiny()
    before = {k: v.clone() for k, v in target.encoder.state_dict().items()}
    with pytest.raises(ValueError) as err:
        M.load_encoder_checkpoint(target.encoder, str(path))
    msg = str(err.value)
    assert str(path) in msg and "pos_embed" in msg and "cls_token" in msg and "(1, 1, 48)" in msg
    assert all(torch.equal(before[k], v) for k, v in target.encoder.state_dict().items())

    partial = {k: v for k, v in M.to_official_state_dict(tiny(seed=5)).items()
               if not k.startswith("blocks.1.")}
    partial["head.weight"] = torch.zeros(3, 32)
    ppath = tmp_path / "partial.pth"
    torch.save({"model": partial}, ppath)
    with pytest.raises(ValueError, match="blocks.1.attn.qkv.weight"):
        M.load_encoder_checkpoint(target.encoder, str(ppath))
    report = M.load_encoder_checkpoint(target.encoder, str(ppath), strict=False)
    assert "blocks.1.mlp.fc2.bias" in report["missing"] and report["unexpected"] == ["head.weight"]

    junk = tmp_path / "junk.pth"
    torch.save({"model": {"foo.weight": torch.zeros(2)}}, junk)
    with pytest.raises(ValueError, match="no key matches"):
        M.load_encoder_checkpoint(target.encoder, str(junk))


# -- training -------------------------------------------------------------------------------------

def test_pretrain_recipe_defaults():
    r = S.mae_pretrain_recipe_defaults(n_train=1000)
    assert r["lr"] == pytest.approx(1.5e-4 * 4096 / 256)
    assert (r["samples_seen"], r["warmup_samples"]) == (800_000, 40_000)
    assert r["optimizer"] == "adamw" and r["betas"] == [0.9, 0.95] and r["weight_decay"] == 0.05
    aug = R.augment_settings(r)
    assert aug["scale"] == [0.2, 1.0] and not aug["auto_augment"] and aug["mixup"] == 0
    assert "samples_seen" not in S.mae_pretrain_recipe_defaults()


def test_tiny_mae_learns_through_fit(tmp_path, checkpoint_every_epoch):
    torch.manual_seed(0)
    model = tiny()
    imgs = structured_images(256)
    ds = TensorDataset(imgs, torch.zeros(256, dtype=torch.long))
    recipe = {"input_size": 32, "batch_size": 32, "samples_seen": 100 * 32, "lr": 1e-2,
              "weight_decay": 0.05, "warmup_samples": 5 * 32, "optimizer": "adamw",
              "betas": [0.9, 0.95]}
    pos_before = model.encoder.pos_embed.clone()
    state = fit(model, ds, num_classes=1, recipe=recipe, seed=0,
                checkpoint_path=str(tmp_path / "ckpt.pt"), run_hash="mae-test",
                device=torch.device("cpu"), progress=False, log=lambda *_: None,
                objective=LossFunction(M.mae_loss))
    assert state.step == 100
    curve = [v for _, v in state.loss_curve]
    assert all(np.isfinite(curve))
    first, last = curve[0], float(np.mean(curve[-3:]))
    assert last < 0.6 * first, (first, last)
    # below 47/48, the loss of predicting the mean (0) of every normalised patch: it has learned
    # something about the images, not just the scale of the target
    assert last < 0.85 * 47 / 48, (first, last)
    assert torch.equal(model.encoder.pos_embed, pos_before)  # frozen: outside the optimizer
    # fit's own checkpoint (a MaskedAutoencoder state dict + optimizer/scheduler state) loads
    fresh = tiny(seed=9)
    report = M.load_encoder_checkpoint(fresh.encoder, str(tmp_path / "ckpt.pt"))
    assert report["missing"] == [] and report["unexpected"] == []
    assert _encoder_equal(fresh.encoder, model.encoder)

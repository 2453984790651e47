"""The augmentation / regularisation UrbanCars methods (ERM, Mixup, CutMix, Cutout, AugMix, SD,
CF+F Aug): each plugs into the one loop with the registry's defaults, and the hand-checkable parts
follow the official code."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from vlmbias.lle import plan
from vlmbias.lle.methods import augmix, cf_aug, cutout, sd
from vlmbias.lle.methods import setup as method_setup
from vlmbias.lle.methods.base import Setup
from vlmbias.train import recipe as R
from vlmbias.train.loop import fit

CPU = torch.device("cpu")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MODULES = ["erm", "mixup", "cutmix", "cutout", "augmix", "sd", "cf_aug"]
PARAMS = {e["module"]: e.get("params", {}) for e in plan.registry().values() if e["module"] in MODULES}


def _batch(ds, idx):
    xs, ys = zip(*(ds[i] for i in idx))
    return torch.stack(xs), torch.as_tensor(ys), torch.as_tensor(idx)


def _grad_norm(module):
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_every_module_has_its_registry_defaults():
    assert sorted(PARAMS) == sorted(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_one_loss_call_is_a_finite_scalar_with_gradients(make_ctx, module):
    ctx = make_ctx(PARAMS[module])
    s = method_setup(module, ctx)
    assert isinstance(s, Setup)
    x, y, idx = _batch(s.train_ds or ctx.train_ds, list(range(0, 64, 4)))
    s.model.train()
    x, target = s.objective.batch(x, y)
    loss = s.objective.loss(s.model, x, target, idx)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert _grad_norm(s.model) > 0


@pytest.mark.parametrize("module", MODULES)
def test_trains_through_the_loop(make_ctx, tmp_path, module):
    ctx = make_ctx(PARAMS[module])
    s = method_setup(module, ctx)
    state = fit(s.model, s.train_ds or ctx.train_ds, 2, ctx.recipe, 0, str(tmp_path / "ckpt.pt"), "h", CPU,
                objective=s.objective, progress=False, log=lambda m: None, epoch_samples=s.epoch_samples)
    assert state.step == 4 and all(math.isfinite(v) for v in state.epoch_loss)


@pytest.mark.parametrize("module", ["mixup", "cutmix"])
def test_mixing_an_odd_micro_batch_through_the_loop(make_ctx, tmp_path, module):
    ctx = make_ctx(PARAMS[module], recipe={"batch_size": 5, "samples_seen": 20})
    s = method_setup(module, ctx)
    state = fit(s.model, ctx.train_ds, 2, ctx.recipe, 0, str(tmp_path / "ckpt.pt"), "h", CPU,
                objective=s.objective, progress=False, log=lambda m: None)
    assert state.step == 4 and all(math.isfinite(v) for v in state.epoch_loss)


# ---------------------------------------------------------------- Mixup / CutMix

def _mix(make_ctx, module, params, n=8, seed=0):
    np.random.seed(seed)
    s = method_setup(module, make_ctx(params))
    x = torch.randn(n, 3, 16, 16)
    y = torch.arange(n) % 2                     # y[0] = 0 and y[-1] = 1 (its flip partner) when n is even
    xm, t = s.objective.batch(x.clone(), y)
    return x, y, xm, t


@pytest.mark.parametrize("module, params", [("mixup", {"alpha": 0.4}), ("cutmix", {"alpha": 1.0})])
def test_mix_targets_are_soft_and_sum_to_one(make_ctx, module, params):
    x, y, xm, t = _mix(make_ctx, module, params)
    assert t.shape == (8, 2) and torch.allclose(t.sum(1), torch.ones(8))
    assert bool(((t > 0) & (t < 1)).all())     # soft: every pair has different labels
    lam = float(t[0, 0])                        # = λ (sample 0 is class 0, its partner class 1)
    if module == "mixup":
        assert torch.allclose(xm, lam * x + (1 - lam) * x.flip(0), atol=1e-6)
    else:
        pasted = (xm != x).any(1)               # [B, H, W]: pixels taken from the flipped batch
        assert torch.equal(xm, torch.where(pasted[:, None], x.flip(0), x))
        assert float(pasted[0].float().mean()) == pytest.approx(1 - lam, abs=1e-6)
    assert torch.allclose(t, lam * nn.functional.one_hot(y, 2) + (1 - lam) * nn.functional.one_hot(y.flip(0), 2))


@pytest.mark.parametrize("module", ["mixup", "cutmix"])
def test_odd_batch_mixes_all_but_the_last(make_ctx, module):
    x, y, xm, t = _mix(make_ctx, module, PARAMS[module], n=5)
    assert torch.equal(xm[-1], x[-1]) and torch.equal(t[-1], torch.tensor([1.0, 0.0]))   # y[4] = 0
    assert torch.allclose(t.sum(1), torch.ones(5)) and not torch.equal(xm[:4], x[:4])


# ---------------------------------------------------------------- Cutout

def test_cutout_p1_zeroes_a_rectangle_of_every_sample_and_p0_nothing():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 32, 32)
    x0 = x.clone()
    obj = cutout.CutoutObjective(1.0, (0.02, 0.33))
    out, y = obj.batch(x, torch.zeros(6, dtype=torch.long))
    assert not torch.equal(out, x) and torch.equal(x, x0)             # the caller's batch is left alone
    for i in range(6):
        changed = (out[i] != x[i]).any(0)
        rows, cols = changed.any(1).nonzero().flatten(), changed.any(0).nonzero().flatten()
        assert len(rows) and len(cols)
        box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
        assert bool((out[i][:, box[0], box[1]] == 0).all())            # a full rectangle, all channels 0
        keep = torch.ones(32, 32, dtype=torch.bool)
        keep[box] = False
        assert torch.equal(out[i][:, keep], x[i][:, keep])             # nothing else touched
        assert 0.02 * 1024 * 0.5 <= changed.sum() <= 0.33 * 1024 * 1.5
    out0, _ = cutout.CutoutObjective(0.0, (0.02, 0.33)).batch(x, y)
    assert torch.equal(out0, x)


# ---------------------------------------------------------------- SD

class FixedLogits(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = nn.Parameter(torch.as_tensor(logits, dtype=torch.float32))

    def forward(self, x):
        return self.logits


def test_sd_loss_is_ce_plus_lambda_mean_true_logit_squared():
    model = FixedLogits([[2.0, 0.0], [0.5, 1.5], [-1.0, 3.0]])
    y = torch.tensor([0, 0, 1])
    loss = sd.SDObjective(0.1).loss(model, torch.zeros(3), y, torch.arange(3))
    ce = [math.log(1 + math.exp(-2.0)), math.log(1 + math.exp(1.0)), math.log(1 + math.exp(-4.0))]
    expect = sum(ce) / 3 + 0.1 * (2.0**2 + 0.5**2 + 3.0**2) / 3
    assert loss.item() == pytest.approx(expect, rel=1e-6)


def test_sd_sets_weight_decay_zero_for_the_optimizer(make_ctx):
    ctx = make_ctx(PARAMS["sd"])
    assert ctx.recipe["weight_decay"] > 0
    s = method_setup("sd", ctx)
    assert s.info["recipe_overrides"] == {"weight_decay": 0.0} and s.info["lambda"] == 0.1
    opt = R.optimizer(dict(ctx.recipe, **s.info["recipe_overrides"]), s.model)
    assert all(g["weight_decay"] == 0.0 for g in opt.param_groups)


# ---------------------------------------------------------------- CF+F Aug

def test_cf_aug_views_labels_and_loss(make_ctx):
    torch.manual_seed(0)
    x = torch.randn(4, 3, 16, 16)
    y = torch.tensor([0, 1, 1, 0])
    obj = method_setup("cf_aug", make_ctx(PARAMS["cf_aug"])).objective
    x3, t = obj.batch(x, y)
    assert x3.shape == (12, 3, 16, 16) and torch.equal(t, torch.cat([y, y, 1 - y]))
    orig, fact, cf = x3.chunk(3)
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[4:12, 4:12] = True                                   # [0.25, 0.75] of 16 px
    assert torch.equal(orig, x)
    assert bool((cf[:, :, inside] == 0).all()) and torch.equal(cf[:, :, ~inside], x[:, :, ~inside])
    assert torch.equal(fact[:, :, inside], x[:, :, inside])
    lo = (0 - torch.tensor(MEAN)) / torch.tensor(STD)
    hi = (1 - torch.tensor(MEAN)) / torch.tensor(STD)
    outside = fact[:, :, ~inside]                               # the normalised random background
    assert bool(((outside >= lo[None, :, None] - 1e-5) & (outside <= hi[None, :, None] + 1e-5)).all())
    assert not torch.allclose(outside, x[:, :, ~inside])
    # the loss: three batch-mean CEs, summed
    logits = torch.randn(12, 2)
    loss = obj.loss(FixedLogits(logits), x3, t, torch.arange(4))
    ce = nn.functional.cross_entropy
    expect = ce(logits[:4], y) + ce(logits[4:8], y) + ce(logits[8:], 1 - y)
    assert loss.item() == pytest.approx(expect.item(), rel=1e-6)


def test_cf_aug_box_at_256_is_the_official_64_to_192():
    m = cf_aug.box_mask(256, 256, (0.25, 0.75))
    assert m.sum() == 128 * 128 and m[0, 0, 64, 64] == 1 and m[0, 0, 191, 191] == 1 and m[0, 0, 192, 100] == 0


# ---------------------------------------------------------------- AugMix

def test_jsd_is_zero_for_identical_views_and_positive_otherwise():
    torch.manual_seed(0)
    a = torch.randn(8, 2)
    assert abs(augmix.jsd(a, a.clone(), a.clone()).item()) < 1e-6
    b, c = torch.randn(8, 2), torch.randn(8, 2)
    value = augmix.jsd(a, b, c)
    assert value.item() > 0
    ps = [torch.softmax(v, 1) for v in (a, b, c)]
    m = (ps[0] + ps[1] + ps[2]) / 3
    expect = sum((p * (p.log() - m.log())).sum(1).mean() for p in ps) / 3
    assert value.item() == pytest.approx(expect.item(), rel=1e-5)


def test_augmix_uses_the_official_op_pool_at_the_official_scales():
    """google-research/augmix at severity 1: levels up to 1 of 10; rotate 3 degrees, shear 0.03,
    translate a third of the image x 0.1, posterize 4 bits, solarize from 231; black fill, bilinear."""
    a = augmix.OfficialAugMix(severity=1)
    assert [op.name for op in a.augment.ops] == list(augmix.OFFICIAL_OPS)
    assert not {"ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing"} \
        & {op.name for op in a.augment.ops}
    at_max = {op.name: op.level_fn(op.magnitude, op.hparams) if op.level_fn else () for op in a.augment.ops}
    assert at_max["PosterizeIncreasing"] == (4,) and at_max["SolarizeIncreasing"] == (231,)
    assert abs(at_max["Rotate"][0]) == pytest.approx(3.0) and abs(at_max["ShearX"][0]) == pytest.approx(0.03)
    assert abs(at_max["TranslateXRel"][0]) == pytest.approx(1 / 30)
    assert all(op.magnitude_std == float("inf") and op.prob == 1.0 for op in a.augment.ops)   # level ~ U(0, 1)
    assert all(op.kwargs["fillcolor"] == (0, 0, 0) and op.kwargs["resample"] == Image.BILINEAR
               for op in a.augment.ops)
    assert (a.augment.width, a.augment.depth, a.augment.alpha, a.augment.blended) == (3, -1, 1.0, False)


def test_augmix_geometric_ops_move_the_image_and_draws_are_seeded():
    ramp = torch.linspace(0, 255, 32).round().to(torch.uint8)
    u8 = torch.stack([ramp.view(1, -1).expand(32, 32), ramp.view(-1, 1).expand(32, 32),
                      (255 - ramp).view(1, -1).expand(32, 32)]).contiguous()
    a = augmix.OfficialAugMix(severity=1)
    img = Image.fromarray(u8.permute(1, 2, 0).numpy())
    for op in a.augment.ops:
        if op.name in ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"):
            random.seed(0)
            moved = [np.abs(np.asarray(op(img), np.int16) - np.asarray(img, np.int16)).max() for _ in range(20)]
            assert max(moved) > 0, op.name          # torchvision's AugMix at severity 1: all identities

    def draw(seed):
        random.seed(seed)
        np.random.seed(seed)
        return a(u8)
    out = draw(3)
    assert out.dtype == torch.uint8 and out.shape == u8.shape and not torch.equal(out, u8)
    assert torch.equal(out, draw(3)) and not torch.equal(out, draw(4))


def test_augmix_views_round_trip_and_batch_order(make_ctx):
    ctx = make_ctx(PARAMS["augmix"])
    mean, std = torch.tensor(MEAN).view(-1, 1, 1), torch.tensor(STD).view(-1, 1, 1)
    u8 = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    xs = (u8.float() / 255 - mean) / std                        # what a train transform yields
    ds = [(xs[i], i % 2) for i in range(4)]
    ident = augmix.AugMixViews(ds, lambda im: im, MEAN, STD)    # AugMix replaced by the identity
    v, y = ident[1]
    assert v.shape == (9, 16, 16) and y == 1
    assert torch.equal(v[:3], xs[1])                            # the clean view as the dataset gave it
    assert torch.allclose(v[3:6], xs[1], atol=1e-5) and torch.allclose(v[6:], xs[1], atol=1e-5)   # lossless uint8
    views = augmix.AugMixViews(ds, method_setup("augmix", ctx).train_ds.augmix, MEAN, STD)
    torch.manual_seed(1)
    batch = torch.stack([views[i][0] for i in range(4)])
    assert not torch.allclose(batch[:, 3:6], batch[:, :3], atol=1e-3)       # AugMix changed the images
    x3, t = augmix.AugMixObjective(12.0).batch(batch, torch.tensor([0, 1, 0, 1]))
    assert x3.shape == (12, 3, 16, 16) and torch.equal(t, torch.tensor([0, 1, 0, 1]))
    for k in range(3):                                          # [clean x4, aug1 x4, aug2 x4]
        assert torch.equal(x3[4 * k:4 * k + 4], batch[:, 3 * k:3 * k + 3])

"""The re-weighting / second-network UrbanCars methods (LfF, JTT, EIIL, GroupDRO, DebiAN): each
plugs into the one loop, and the hand-checkable parts follow the official code."""

from __future__ import annotations

import math

import pytest
import torch

from vlmbias.lle.methods import debian, eiil, groupdro, jtt, lff
from vlmbias.lle.methods import setup as method_setup
from vlmbias.train.loop import fit

CPU = torch.device("cpu")
EIIL_FAST = {"bias_epochs": 1, "n_steps": 20, "lr": 1e-3, "dro_step_size": 0.01}
PARAMS = {
    "lff": {"q": 0.7, "ema_alpha": 0.7},
    "jtt": {"bias_epochs": 1, "up_weight": 100},
    "eiil": EIIL_FAST,
    "groupdro": {"step_size": 0.01, "groups": "both"},
    "debian": {},
}


def _batch(ctx, idx):
    xs, ys = zip(*(ctx.train_ds[i] for i in idx))
    return torch.stack(xs), torch.as_tensor(ys), torch.as_tensor(idx)


def _grad_norm(module):
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", list(PARAMS))
def test_one_loss_call_reaches_every_network(make_ctx, name):
    ctx = make_ctx(PARAMS[name])
    s = method_setup(name, ctx)
    x, y, idx = _batch(ctx, list(range(0, 64, 4)))
    s.model.train()
    for m in s.objective.modules():
        m.train()
    x, target = s.objective.batch(x, y)
    loss = s.objective.loss(s.model, x, target, idx)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert _grad_norm(s.model) > 0
    for m in s.objective.modules():
        assert _grad_norm(m) > 0
    assert s.model.training and all(m.training for m in s.objective.modules())


@pytest.mark.parametrize("name", list(PARAMS))
def test_trains_through_the_loop(make_ctx, tmp_path, name, checkpoint_every_epoch):
    ctx = make_ctx(PARAMS[name])
    s = method_setup(name, ctx)
    extra_before = [[p.detach().clone() for p in m.parameters()] for m in s.objective.modules()]
    state = fit(s.model, s.train_ds or ctx.train_ds, 2, ctx.recipe, 0, str(tmp_path / "ckpt.pt"), "h", CPU,
                objective=s.objective, progress=False, log=lambda m: None, epoch_samples=s.epoch_samples)
    assert state.step == 4 and all(math.isfinite(v) for v in state.epoch_loss)
    for m, before in zip(s.objective.modules(), extra_before):
        assert any(not torch.equal(p, b) for p, b in zip(m.parameters(), before))
    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    s.objective.load_state_dict(ckpt["objective"])


# ---------------------------------------------------------------- LfF

def test_gce_is_the_official_formula():
    logits = torch.tensor([[2.0, 0.0], [0.5, 1.5]], requires_grad=True)
    y = torch.tensor([0, 0])
    q = 0.7
    out = lff.gce_loss(logits, y, q)
    p = torch.softmax(logits.detach(), 1)[:, 0]
    assert torch.allclose(out, -torch.log(p) * q * p**q)
    out.sum().backward()
    # p_y**q is detached: the gradient is q p^q (softmax - onehot)
    expect = (q * p**q)[:, None] * (torch.softmax(logits.detach(), 1) - torch.tensor([[1.0, 0.0]]))
    assert torch.allclose(logits.grad, expect, atol=1e-6)


def test_lff_ema_update_and_running_class_max():
    ema = lff.SampleLossEMA(torch.tensor([0, 0, 1, 1]), alpha=0.7)
    ema.update(torch.tensor([1.0, 2.0]), torch.tensor([0, 2]))
    assert torch.allclose(ema.parameter, torch.tensor([1.0, 0.0, 2.0, 0.0]))   # first update stores it
    ema.update(torch.tensor([0.0]), torch.tensor([0]))
    assert torch.allclose(ema.parameter[0], torch.tensor(0.7))                  # 0.7·1 + 0.3·0
    assert torch.allclose(ema.max_param_per_class, torch.tensor([1.0, 2.0]))    # running max, kept


def test_lff_weight_is_lb_over_lb_plus_ld(make_ctx):
    ctx = make_ctx(PARAMS["lff"])
    obj = method_setup("lff", ctx).objective
    idx, label = torch.tensor([0, 1, 2]), ctx.labels[[0, 1, 2]]
    obj.ema_b.parameter[:3] = torch.tensor([0.2, 1.0, 0.5])
    obj.ema_d.parameter[:3] = torch.tensor([0.6, 0.5, 0.5])
    obj.ema_b.max_param_per_class[:] = torch.tensor([2.0, 1.0])
    obj.ema_d.max_param_per_class[:] = torch.tensor([1.0, 4.0])
    lb = torch.tensor([0.2, 1.0, 0.5]) / torch.tensor([2.0, 1.0])[label]
    ld = torch.tensor([0.6, 0.5, 0.5]) / torch.tensor([1.0, 4.0])[label]
    assert torch.allclose(obj.weights(idx, label), lb / (lb + ld + 1e-8))


def test_lff_state_round_trip_restores_the_ema(make_ctx, tmp_path):
    ctx = make_ctx(PARAMS["lff"])
    s = method_setup("lff", ctx)
    fit(s.model, ctx.train_ds, 2, ctx.recipe, 0, str(tmp_path / "ckpt.pt"), "h", CPU, objective=s.objective,
        progress=False, log=lambda m: None)
    assert bool((s.objective.ema_b.updated == 1).all()) and float(s.objective.ema_d.parameter.sum()) > 0
    torch.save(s.objective.state_dict(), tmp_path / "obj.pt")
    fresh = method_setup("lff", make_ctx(PARAMS["lff"])).objective
    fresh.load_state_dict(torch.load(tmp_path / "obj.pt", weights_only=False))
    for a, b in ((s.objective.ema_b, fresh.ema_b), (s.objective.ema_d, fresh.ema_d)):
        for k in ("parameter", "updated", "max_param_per_class"):
            assert torch.equal(getattr(a, k), getattr(b, k))
    idx = torch.arange(8)
    assert torch.equal(s.objective.weights(idx, ctx.labels[:8]), fresh.weights(idx, ctx.labels[:8]))


# ---------------------------------------------------------------- JTT

def test_jtt_upweights_the_error_set_as_the_official_concat(make_ctx):
    ctx = make_ctx({"bias_epochs": 2, "up_weight": 100})
    errors = torch.zeros(64, dtype=torch.bool)
    errors[[3, 10, 41]] = True
    seen = {}

    def fit_stage(name, model, dataset, objective=None, epochs=1.0):
        seen.update(name=name, objective=objective, epochs=epochs)

    def predict(model, dataset):
        y = ctx.labels
        pred = torch.where(errors, 1 - y, y)
        return torch.nn.functional.one_hot(pred, 2).float()

    ctx.fit_stage, ctx.predict = fit_stage, predict
    s = jtt.setup(ctx)
    assert seen["name"] == "jtt_identify" and seen["epochs"] == 2
    assert isinstance(seen["objective"], jtt.PlainCE) and seen["objective"].sample_weights(0) is None
    w = s.objective.sample_weights(0)
    assert torch.equal(w[errors], torch.full((3,), 101.0, dtype=w.dtype))    # 1 original + 100 copies
    assert torch.equal(w[~errors], torch.ones(61, dtype=w.dtype))
    assert s.info["error_set"] == 3 and sum(s.info["error_set_per_class"]) == 3
    # the error set travels with the checkpoint
    other = jtt.JTTObjective(torch.zeros(64, dtype=torch.bool), 100, ctx.labels, {})
    other.load_state_dict(s.objective.state_dict())
    assert torch.equal(other.sample_weights(0), w)


# ---------------------------------------------------------------- GroupDRO

def test_groupdro_weights_move_to_the_worse_group():
    dro = groupdro.GroupDROLoss(3, step_size=0.01)
    losses = torch.tensor([1.0, 1.0, 3.0, 3.0], requires_grad=True)
    groups = torch.tensor([0, 0, 1, 1])                 # group 2 absent from the batch
    out = dro(losses, groups)
    q = torch.tensor([math.exp(0.01), math.exp(0.03), 1.0])
    q = q / q.sum()
    assert torch.allclose(dro.adv_probs, q)
    assert dro.adv_probs[1] > dro.adv_probs[0] > dro.adv_probs[2]
    # the official sum over all groups (absent ones with loss 0), not a mean over those present
    assert torch.allclose(out, q[0] * 1.0 + q[1] * 3.0)
    out.backward()
    assert torch.allclose(losses.grad, torch.tensor([q[0] / 2, q[0] / 2, q[1] / 2, q[1] / 2]))


def test_groupdro_sampling_makes_groups_equally_likely(make_ctx):
    ctx = make_ctx(PARAMS["groupdro"], n=400)
    for which, n_groups in (("both", 8), ("bg", 4), ("coobj", 4)):
        g, n = groupdro.group_labels(ctx.factors, which)
        assert n == n_groups
        w = groupdro.balanced_weights(g)
        mass = torch.zeros(n, dtype=w.dtype).index_add_(0, g, w)
        present = torch.bincount(g, minlength=n) > 0
        assert torch.allclose(mass[present], torch.full_like(mass[present], float(mass[present][0])))
    f = ctx.factors
    g, _ = groupdro.group_labels(f, "bg")
    assert torch.equal(g, torch.tensor((2 * f["label"] + f["background"]).to_numpy()))
    s = groupdro.setup(make_ctx({"groups": "coobj", "step_size": 0.01}))
    assert len(s.objective.dro.adv_probs) == 4 and sum(s.info["group_sizes"]) == 64


# ---------------------------------------------------------------- EIIL

def _two_halves_logits():
    """Per class 16 samples: the first 8 right with a small loss, the last 8 confidently wrong."""
    labels = torch.tensor([0] * 16 + [1] * 16)
    logits = torch.zeros(32, 2)
    for c in (0, 1):
        rows = torch.arange(16 * c, 16 * c + 16)
        logits[rows[:8], c] = 4.0
        logits[rows[8:], 1 - c] = 4.0
    return logits, labels


def test_eiil_splits_low_and_high_loss_halves():
    logits, labels = _two_halves_logits()
    envs, npen = eiil.infer_environments(logits, labels, 2, n_steps=200, lr=0.05, seed=0)
    assert npen < 0
    for c in (0, 1):
        e = envs[16 * c: 16 * c + 16]
        low, high = e[:8], e[8:]
        assert len(set(low.tolist())) == 1 and len(set(high.tolist())) == 1 and low[0] != high[0]


def test_eiil_setup_groups_are_class_times_env(make_ctx):
    ctx = make_ctx({"bias_epochs": 1, "n_steps": 200, "lr": 0.05, "dro_step_size": 0.01})
    logits = torch.zeros(64, 2)
    y = ctx.labels
    wrong = torch.arange(64) >= 32
    logits[torch.arange(64), torch.where(wrong, 1 - y, y)] = 4.0
    ctx.predict = lambda model, ds: logits
    s = eiil.setup(ctx)
    g = s.objective.groups
    assert torch.equal(g // 2, y)
    for c in (0, 1):
        m = y == c
        assert len(set(g[m & wrong].tolist())) == 1 and len(set(g[m & ~wrong].tolist())) == 1
        assert s.info["env_sizes"][c] == [16, 16]
    w = s.objective.sample_weights(0)
    assert torch.allclose(torch.zeros(4, dtype=w.dtype).index_add_(0, g, w), torch.full((4,), 64.0, dtype=w.dtype))  # len / count each


# ---------------------------------------------------------------- DebiAN

def test_debian_classifier_weights_favour_the_worse_group():
    label = torch.zeros(8, dtype=torch.long)
    p_v = torch.zeros(8, 2)
    p_v[:4, 0], p_v[4:, 0] = 0.9, 0.2                  # samples 4-7: the worse group
    p_v[:, 1] = 1 - p_v[:, 0]
    for good_side in (0.9, 0.1):                       # whichever side the discoverer calls "positive"
        p_s = torch.zeros(8, 2)
        p_s[:4, 0], p_s[4:, 0] = good_side, 1 - good_side
        w = debian.classifier_weights(p_v, p_s, label, 2)
        assert torch.allclose(w[4:], torch.full((4,), 1.9)) and torch.allclose(w[:4], torch.full((4,), 1.1))


def test_debian_discoverer_loss_prefers_the_split_by_correctness():
    label = torch.tensor([0] * 8 + [1] * 8)
    p_v = torch.full((16, 2), 0.5)
    p_v[torch.arange(16), label] = torch.tensor([0.9, 0.2] * 8)
    p_v[torch.arange(16), 1 - label] = 1 - p_v[torch.arange(16), label]
    good = torch.zeros(16, 2)
    good[torch.arange(16), label] = torch.tensor([0.95, 0.05] * 8)
    bad = torch.full((16, 2), 0.5)
    aligned = debian.discoverer_loss(p_v, good, label, 2)
    assert aligned < debian.discoverer_loss(p_v, bad, label, 2)
    # the official value for the aligned split
    pos = (0.95 * 0.9 + 0.05 * 0.2) / (1.0 + 1e-6)
    neg = (0.05 * 0.9 + 0.95 * 0.2) / (1.0 + 1e-6)
    expect = -math.log(1e-6 + abs(pos - neg)) - math.log(1e-6 + 1 - 0.0)
    assert aligned.item() == pytest.approx(expect, rel=1e-5)

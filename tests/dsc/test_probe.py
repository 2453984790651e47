"""vlmbias.dsc.probe: a frozen timm ViT + MAE's linear-probe heads, trained through the one loop."""

import pytest
import timm
import torch
from timm.optim import create_optimizer_v2
from torch.utils.data import TensorDataset

from vlmbias.dsc import mae as M
from vlmbias.dsc.probe import LinearProbe, ProbeLoss
from vlmbias.dsc.ssl_recipes import epochs_to_samples, probe_lr, probe_recipe_defaults
from vlmbias.train import recipe as R
from vlmbias.train.loop import evaluate, evaluate_heads, fit
from vlmbias.train.recipe import mae_lars_param_groups

CPU = torch.device("cpu")


# tiny models on a shared 2-core machine: one intra-op thread is much faster
pytestmark = pytest.mark.usefixtures("one_thread")


def mae_encoder(seed=0):
    torch.manual_seed(seed)
    return M.encoder_of(M.build_mae(dict(img_size=32, patch_size=4, embed_dim=32, depth=3,
                                         num_heads=2, decoder_embed_dim=16, decoder_depth=1,
                                         decoder_num_heads=2)))


def supervised_vit(seed=0):
    torch.manual_seed(seed)
    return timm.create_model("vit_small_patch16_224", img_size=32, patch_size=4, embed_dim=96,
                             depth=4, num_heads=3, num_classes=3)


ENCODERS = {"mae": mae_encoder, "supervised": supervised_vit}


def colour_task(n_per_class, seed):
    """Three classes told apart by which colour channel is brighter: linearly separable."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(3).repeat_interleave(n_per_class)
    x = 0.5 * torch.randn(len(y), 3, 32, 32, generator=g)
    x[torch.arange(len(y)), y] += 1.0
    return TensorDataset(x, y)


def toy_recipe(n_train, epochs):
    """MAE's recipe at a toy scale. MAE's LARS moves the weight by about lr x 0.001 x |W| per
    step, so a run of ~100 steps needs a far larger lr than MAE's 6.4 (here 10: blr 160 at
    batch 16) to turn the head's random initial direction."""
    return probe_recipe_defaults(n_train, blr=160.0, batch_size=16, micro_batch_size=None,
                                 epochs=epochs, warmup_epochs=1, input_size=32)


# -- structure ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_frozen_encoder_bn_without_affine_head_init(kind):
    enc = ENCODERS[kind]()
    probe = LinearProbe(enc, num_classes=5)
    assert all(not p.requires_grad for p in enc.parameters())
    trainable = [n for n, p in probe.named_parameters() if p.requires_grad]
    assert trainable == ["heads.0.1.weight", "heads.0.1.bias"]
    bn, lin = probe.head
    assert isinstance(bn, torch.nn.BatchNorm1d) and not bn.affine and bn.weight is None
    assert bn.eps == 1e-6 and bn.num_features == enc.embed_dim == lin.in_features
    assert lin.out_features == 5 and not lin.bias.detach().any()
    assert 0.005 < float(lin.weight.detach().std()) < 0.015   # trunc-normal std 0.01


def test_train_mode_leaves_encoder_in_eval():
    probe = LinearProbe(supervised_vit(), 3)
    probe.train()
    assert probe.training and probe.head.training and probe.head[0].training
    assert not any(m.training for m in probe.encoder.modules())
    probe.eval()
    assert not any(m.training for m in probe.modules())
    probe.train(True)
    assert not probe.encoder.training


def test_rejects_what_it_cannot_probe():
    with pytest.raises(TypeError, match="encoder_of"):
        LinearProbe(M.build_mae(dict(img_size=32, patch_size=8, embed_dim=16, depth=1,
                                     num_heads=1, decoder_embed_dim=8, decoder_depth=1,
                                     decoder_num_heads=1)), 3)
    with pytest.raises(ValueError, match="out of range"):
        LinearProbe(mae_encoder(), 3, layer=3)
    no_cls = timm.create_model("vit_small_patch16_224", img_size=32, patch_size=8, embed_dim=24,
                               depth=1, num_heads=2, class_token=False, global_pool="avg")
    with pytest.raises(ValueError, match="class token"):
        LinearProbe(no_cls, 3)


# -- features -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_layer_selection(kind):
    enc = ENCODERS[kind]()
    x = torch.randn(4, 3, 32, 32)
    last, first = LinearProbe(enc, 3), LinearProbe(enc, 3, layer=0)
    assert last.layer == len(enc.blocks) - 1 and LinearProbe(enc, 3, layer=-1).layer == last.layer
    f_last, f_first = last.features(x)[last.layer], first.features(x)[first.layer]
    assert f_last.shape == f_first.shape == (4, enc.embed_dim)
    assert not f_last.requires_grad
    assert not torch.allclose(f_last, f_first)
    with torch.no_grad():
        # last block: timm's own (normed) class token; block 0: computed by hand
        assert torch.allclose(f_last, enc.forward_features(x)[:, 0], atol=1e-6)
        h = enc.norm_pre(enc._pos_embed(enc.patch_embed(x)))
        assert torch.allclose(f_first, enc.norm(enc.blocks[0](h))[:, 0], atol=1e-6)

    calls = []
    hook = enc.blocks[-1].register_forward_hook(lambda *_: calls.append(1))
    try:
        first.features(x)
        assert calls == []                     # blocks after `layer` are not run
        last.features(x)
        assert calls == [1]
    finally:
        hook.remove()
    if kind == "supervised":                   # the supervised ViT's own head is never used
        head_calls = []
        h2 = enc.head.register_forward_hook(lambda *_: head_calls.append(1))
        last(x)
        h2.remove()
        assert head_calls == []


# -- training -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_fit_trains_only_the_head_and_separates_a_toy_task(kind, tmp_path):
    enc = ENCODERS[kind]()
    probe = LinearProbe(enc, 3)
    train, val = colour_task(32, seed=0), colour_task(16, seed=1)
    recipe = toy_recipe(len(train), epochs=16)
    assert recipe["optimizer"] == "lars"
    assert isinstance(R.optimizer(recipe, probe), timm.optim.Lars)
    enc_before = {k: v.clone() for k, v in enc.state_dict().items()}
    head_before = probe.head[1].weight.detach().clone()

    state = fit(probe, train, 3, recipe, seed=0, checkpoint_path=str(tmp_path / "ck.pt"),
                run_hash="probe", device=CPU, progress=False, log=lambda *_: None)
    assert state.step == 16 * 6
    after = enc.state_dict()
    assert all(torch.equal(enc_before[k], after[k]) for k in after)   # bit-identical
    assert all(p.grad is None for p in enc.parameters())
    assert not torch.equal(probe.head[1].weight.detach(), head_before)
    assert probe.head[0].num_batches_tracked == 16 * 6              # the BN did train
    assert not any(m.training for m in probe.encoder.modules())

    res = evaluate(probe, val, 3, CPU, batch_size=16, progress=False)
    assert res["acc"] >= 90.0, res


def test_a_sweep_trains_each_head_as_it_would_train_alone(tmp_path):
    """One job, one frozen forward pass, one head per (layer, lr): every head ends exactly where a
    probe of its own (same seed, its own lr) ends, and evaluates the same."""
    train, val = colour_task(16, seed=0), colour_task(8, seed=1)
    sweep = [(1, 5.0), (2, 5.0), (2, 20.0)]

    def run(heads, name):
        recipe = toy_recipe(len(train), epochs=3)
        recipe["lr"] = heads[0][1]
        torch.manual_seed(0)
        probe = LinearProbe(mae_encoder(), 3, sweep=heads)
        fit(probe, train, 3, recipe, seed=0, checkpoint_path=str(tmp_path / f"{name}.pt"), run_hash=name,
            device=CPU, progress=False, log=lambda *_: None, objective=ProbeLoss(recipe, 3))
        return probe, evaluate_heads(probe, val, 3, CPU, batch_size=8, progress=False)

    shared, shared_eval = run(sweep, "shared")
    assert shared(val.tensors[0][:2]).shape == (3, 2, 3)
    weights = [h[1].weight.detach() for h in shared.heads]
    assert not torch.allclose(weights[1], weights[2])          # the lr matters
    for i, head in enumerate(sweep):
        alone, alone_eval = run([head], f"alone{i}")
        assert torch.allclose(alone.head[1].weight, weights[i], atol=1e-6), i
        assert torch.allclose(alone.head[0].running_mean, shared.heads[i][0].running_mean, atol=1e-6)
        assert alone_eval[0]["confusion"] == shared_eval[i]["confusion"]


# -- recipe and optimizer -------------------------------------------------------------------------

def test_probe_recipe_defaults_are_mae_linprobe():
    assert probe_lr(0.1, 16384) == pytest.approx(6.4)
    assert probe_lr(0.3, 256) == pytest.approx(0.3)
    assert epochs_to_samples(90, 1000) == 90_000
    r = probe_recipe_defaults(n_train=3_000_000)
    assert r["optimizer"] == "lars" and r["weight_decay"] == 0.0 and r["min_lr"] == 0.0
    assert r["batch_size"] == 16384 and r["micro_batch_size"] == 512
    assert r["lr"] == pytest.approx(6.4) and r["label_smoothing"] == 0.0
    assert (r["samples_seen"], r["warmup_samples"]) == (270_000_000, 30_000_000)
    aug = R.augment_settings(r)
    assert aug["random_crop"] and aug["hflip"] == 0.5 and aug["scale"] == [0.08, 1.0]
    assert not aug["auto_augment"] and aug["mixup"] == 0 and aug["cutmix"] == 0
    budget = R.make_budget(r, 3_000_000)
    assert budget.accum_steps == 32 and budget.total_steps == 16480   # ceil(270M / 16384)
    mix, loss = R.mixup_and_loss(r, 3)
    assert mix is None and isinstance(loss, torch.nn.CrossEntropyLoss)
    assert "samples_seen" not in probe_recipe_defaults()
    assert probe_recipe_defaults(10, batch_size=64)["micro_batch_size"] == 64


class MaeLars(torch.optim.Optimizer):
    """MAE's util/lars.py (from MoCo v3), transcribed as the reference."""

    def __init__(self, params, lr=0, weight_decay=0, momentum=0.9, trust_coefficient=0.001):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      trust_coefficient=trust_coefficient))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                dp = p.grad
                if dp is None:
                    continue
                if p.ndim > 1:
                    dp = dp.add(p, alpha=g["weight_decay"])
                    param_norm, update_norm = torch.norm(p), torch.norm(dp)
                    one = torch.ones_like(param_norm)
                    q = torch.where(param_norm > 0.0, torch.where(
                        update_norm > 0, g["trust_coefficient"] * param_norm / update_norm, one),
                        one)
                    dp = dp.mul(q)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                state["mu"].mul_(g["momentum"]).add_(dp)
                p.add_(state["mu"], alpha=-g["lr"])


def _run(make_opt, steps=5):
    torch.manual_seed(0)
    probe = LinearProbe(mae_encoder(), 3)
    probe.head[1].bias.data.normal_()
    x, y = torch.randn(16, 3, 32, 32), torch.arange(16) % 3
    opt = make_opt(probe)
    for _ in range(steps):
        torch.nn.functional.cross_entropy(probe(x), y).backward()
        opt.step()
        opt.zero_grad()
    return probe.head[1].weight.detach().clone(), probe.head[1].bias.detach().clone()


def test_mae_lars_param_groups_reproduce_mae_lars():
    lr = 6.4
    init = _run(lambda m: torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.0))
    ref = _run(lambda m: MaeLars([p for p in m.parameters() if p.requires_grad], lr=lr))
    ours = _run(lambda m: create_optimizer_v2(m, "lars", lr=lr, weight_decay=0.0,
                                              param_group_fn=mae_lars_param_groups))
    assert not torch.allclose(ref[0], init[0]) and not torch.allclose(ref[1], init[1])
    assert torch.allclose(ours[0], ref[0], atol=1e-6) and torch.allclose(ours[1], ref[1], atol=1e-5)
    # the project's recipe (optimizer: lars) builds exactly this optimizer
    recipe = {"optimizer": "lars", "lr": lr, "weight_decay": 0.0}
    project = _run(lambda m: R.optimizer(recipe, m))
    assert torch.equal(project[0], ours[0]) and torch.equal(project[1], ours[1])
    # why the groups are needed: with timm's default groups and weight decay 0, timm's Lars skips
    # the trust ratio, i.e. plain SGD + momentum at lr 6.4, far from MAE's update
    plain = _run(lambda m: create_optimizer_v2(m, "lars", lr=lr, weight_decay=0.0))
    assert not torch.allclose(plain[0], ref[0], atol=1e-3)
    groups = mae_lars_param_groups(LinearProbe(mae_encoder(), 3))
    assert [len(g["params"]) for g in groups] == [1, 1] and groups[0]["always_adapt"]

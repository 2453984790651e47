"""LLE: the ensemble's loss and inference weighting against hand computation, the UrbanCars
shift composites pixel by pixel, and the method through the one loop."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from vlmbias.lle import methods
from vlmbias.lle.ensemble import LastLayerEnsemble, LLEObjective, lle_loss
from vlmbias.lle.shifts import BG_AUG, COOBJ_AUG, UrbanCarsShifts
from vlmbias.train.loop import fit

import timm


def test_lle_loss_by_hand():
    heads = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]],
                          [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]])   # [B=2, K=3, C=2]
    shift = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
    y, d = torch.tensor([1, 0]), torch.tensor([1, 0])

    def ce(logits, t):
        return -logits[t] + math.log(sum(math.exp(v) for v in logits))

    head_ce = (ce([0.0, 2.0], 1) + ce([0.0, 1.0], 0)) / 2       # each sample's own head only
    shift_ce = (ce([0.0, 1.0, 0.0], 1) + ce([2.0, 0.0, 0.0], 0)) / 2
    assert float(lle_loss(heads, shift, y, d)) == pytest.approx(head_ce + shift_ce, rel=1e-6)


def test_inference_weights_the_heads_logits_by_the_shift_softmax():
    heads = torch.tensor([[[2.0, 0.0], [0.0, 4.0]]])
    shift = torch.tensor([[math.log(3.0), 0.0]])                 # softmax (0.75, 0.25)
    out = LastLayerEnsemble.combine(heads, shift)
    assert torch.allclose(out, torch.tensor([[1.5, 1.0]]))      # logits, not probabilities


class _Backbone(nn.Module):
    """A timm-like backbone: features = x, one linear classifier."""

    def __init__(self, dim=3, classes=2):
        super().__init__()
        self.num_features = dim
        self.bn = nn.BatchNorm1d(dim)
        self.fc = nn.Linear(dim, classes)

    def forward_features(self, x):
        return self.bn(x)

    def forward_head(self, f, pre_logits=False):
        return f if pre_logits else self.fc(f)

    def get_classifier(self):
        return self.fc


def test_ensemble_forward_is_the_combination_of_its_heads():
    torch.manual_seed(0)
    m = LastLayerEnsemble(_Backbone(), 2, 3).eval()
    x = torch.randn(5, 3)
    heads, shift = m.all_logits(x)
    assert heads.shape == (5, 3, 2) and shift.shape == (5, 3)
    f = m.features(x)
    manual = sum(shift.softmax(1)[:, k:k + 1] * m.heads[k](f) for k in range(3))
    assert torch.allclose(m(x), manual, atol=1e-6)


def test_ensemble_outputs_one_pass_gives_the_models_prediction_and_its_parts():
    from torch.utils.data import TensorDataset

    from vlmbias.lle.ensemble import ensemble_outputs
    from vlmbias.train.loop import predict

    torch.manual_seed(0)
    m = LastLayerEnsemble(_Backbone(dim=4, classes=3), 3, 3)
    ds = TensorDataset(torch.randn(23, 4) * 3, torch.zeros(23, dtype=torch.long))
    pred, heads, probs = ensemble_outputs(m, ds, torch.device("cpu"), batch_size=5)
    assert not m.training
    assert torch.equal(pred, predict(m, ds, torch.device("cpu"), 5, progress=False)[0][0])
    assert len(set(pred.tolist())) > 1                                 # not a constant prediction
    h, s = m.all_logits(ds.tensors[0])
    assert torch.equal(heads, h.argmax(-1)) and torch.allclose(probs, s.softmax(1))
    with pytest.raises(ValueError, match="nothing to predict"):
        ensemble_outputs(m, TensorDataset(torch.zeros(0, 4), torch.zeros(0)), torch.device("cpu"), 5)


def test_imagenet_flavour_frozen_backbone_and_heads_from_its_classifier():
    torch.manual_seed(0)
    bb = _Backbone()
    m = LastLayerEnsemble(bb, 2, 4, freeze_backbone=True, init_heads_from_backbone=True)
    for h in m.heads:
        assert torch.equal(h.weight, bb.fc.weight) and torch.equal(h.bias, bb.fc.bias)
    assert all(not p.requires_grad for p in bb.parameters())
    m.train()
    assert not bb.training and m.heads.training                     # BN statistics stay put
    before = bb.bn.running_mean.clone()
    m.all_logits(torch.randn(8, 3) + 5)
    assert torch.equal(bb.bn.running_mean, before)
    heads, shift = m.all_logits(torch.randn(4, 3))
    lle_loss(heads, shift, torch.tensor([0, 1, 0, 1]), torch.tensor([0, 1, 2, 3])).backward()
    assert bb.fc.weight.grad is None and m.heads[1].weight.grad is not None
    with pytest.raises(ValueError, match="classifier"):
        LastLayerEnsemble(_Backbone(classes=5), 2, 4, init_heads_from_backbone=True)


# --- the UrbanCars shift composites -----------------------------------------------------------

S = 8


class _Shards:
    """Images and extras as a ShardImageDataset gives them: image i is a flat colour (i, 0, 0),
    its bg_only (0, i, 0); the car mask covers the left half, the co-object mask the top-right
    quarter."""

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.full((3, S, S), -1.0), self.labels[i]

    def image(self, i):
        return Image.new("RGB", (S, S), (10 * i, 0, 0))

    def extra(self, i, name):
        m = np.zeros((S, S), np.uint8)
        if name == "car_mask":
            m[:, : S // 2] = 255
        elif name == "coobj_mask":
            m[: S // 2, S // 2:] = 255
        else:
            return Image.new("RGB", (S, S), (0, 10 * i, 0))
        return Image.fromarray(m, "L")


def _shifts(labels):
    return UrbanCarsShifts(_Shards(labels), labels, S, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), hflip=0.0)


@pytest.mark.parametrize("shift", [BG_AUG, COOBJ_AUG])
def test_composite_takes_each_layer_from_the_right_image(shift):
    labels = [0, 0, 1, 1, 0, 1]
    ds = _shifts(labels)
    torch.manual_seed(1)
    for i in range(len(labels)):
        L = ds.layers(i, shift)
        same_bg, same_co = labels[L["bg_src"]] == labels[i], labels[L["coobj_src"]] == labels[i]
        assert (same_bg, same_co) == ((False, True) if shift == BG_AUG else (True, False))
        x = ds.compose(**{k: L[k] for k in ("car", "m_car", "bg", "coobj", "m_co")})
        v = lambda c: round(float(c) * 255)  # noqa: E731
        assert v(x[0, 0, 0]) == 10 * i and v(x[1, 0, 0]) == 0                       # car: image i
        assert v(x[0, 0, -1]) == 10 * L["coobj_src"] and v(x[1, 0, -1]) == 0         # co-object
        assert v(x[0, -1, -1]) == 0 and v(x[1, -1, -1]) == 10 * L["bg_src"]          # background only


def test_shift_blocks_original_passthrough_and_labels():
    labels = [0, 1, 0, 1]
    ds = _shifts(labels)
    assert len(ds) == 12
    assert ds.shift_of(torch.tensor([0, 3, 4, 11])).tolist() == [0, 0, 1, 2]
    x0, y0 = ds[1]
    assert torch.equal(x0, torch.full((3, S, S), -1.0)) and y0 == 1                  # the base sample
    x, y = ds[4 + 3]
    assert y == 1 and x.shape == (3, S, S)


def test_shifts_need_images_with_masks_and_two_classes():
    with pytest.raises(TypeError, match="car_mask"):
        UrbanCarsShifts(torch.utils.data.TensorDataset(torch.zeros(2, 3)), [0, 1], S, (0,) * 3, (1,) * 3)
    with pytest.raises(ValueError, match="one class"):
        _shifts([0, 0, 0])


def _tiny():
    return timm.create_model("resnet50", num_classes=2, channels=[4, 8, 8, 8], stem_width=4)


def test_lle_through_the_one_loop(tmp_path):
    labels = [0, 1] * 16
    torch.manual_seed(0)
    from vlmbias.lle.methods.base import Context

    base = _Shards(labels)
    ctx = Context(train_ds=base, eval_train_ds=base, factors=pd.DataFrame({"label": labels}), num_classes=2,
                  recipe={"input_size": S, "augment": {"hflip": 0.5}}, params={}, seed=0,
                  device=torch.device("cpu"), new_model=_tiny, fit_stage=None, predict=None,
                  log=lambda m: None, mean=(0.5,) * 3, std=(0.5,) * 3)
    setup = methods.setup("lle", ctx)
    assert isinstance(setup.model, LastLayerEnsemble) and isinstance(setup.objective, LLEObjective)
    assert len(setup.train_ds) == 3 * len(labels) and setup.epoch_samples == len(labels)
    recipe = {"input_size": S, "batch_size": 8, "samples_seen": 64, "optimizer": "momentum", "lr": 1e-2,
              "momentum": 0.9, "weight_decay": 0.0, "sched": "constant", "label_smoothing": 0.0}
    state = fit(setup.model, setup.train_ds, 2, recipe, 0, str(tmp_path / "c.pt"), "h", torch.device("cpu"),
                progress=False, log=lambda m: None, objective=setup.objective, epoch_samples=setup.epoch_samples)
    assert state.step == 8 and all(np.isfinite(v) for _, v in state.loss_curve)
    setup.model.eval()
    assert setup.model(torch.randn(3, 3, S, S)).shape == (3, 2)


def test_resized_layers_kept_once_where_the_training_set_caches_images():
    labels = [0, 1, 0, 1, 1, 0]

    class Cached(_Shards):
        caches_images = True
        calls = 0

        def image(self, i):
            Cached.calls += 1
            return super().image(i)

    cached = UrbanCarsShifts(Cached(labels), labels, S, (0.1, 0.2, 0.3), (0.5, 0.5, 0.5), hflip=0.5)
    plain = UrbanCarsShifts(_Shards(labels), labels, S, (0.1, 0.2, 0.3), (0.5, 0.5, 0.5), hflip=0.5)
    assert plain._memo is None
    for epoch in range(3):   # the same draws give the same composites, flips included
        for ds in (cached, plain):
            torch.manual_seed(epoch)
            out = torch.stack([ds[j][0] for j in range(len(labels), 3 * len(labels))])
            if ds is cached:
                first = out
        assert torch.equal(first, out)
    assert Cached.calls <= len(labels) and len(cached._memo) <= 4 * len(labels)

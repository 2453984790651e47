"""The recipe that comes out of config: transforms, Mixup, optimizer groups, schedule, budget."""

import math

import pytest
import torch
from PIL import Image
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from vlmbias.train import recipe as R
from vlmbias.train.models import build_model

PAPER = dict(input_size=224, batch_size=4096, micro_batch_size=256, samples_seen=383385600,
             warmup_samples=25559040, lr=1e-3, min_lr=1e-6, weight_decay=0.3, betas=[0.9, 0.95],
             eps=1e-8, label_smoothing=0.1, interpolation="bicubic", crop_pct=0.875, augment={})


def names(t):
    return [type(x).__name__ for x in t.transforms]


def test_paper_budget_is_93600_iterations():
    b = R.make_budget(PAPER, 3_000_000)
    assert (b.total_steps, b.warmup_steps, b.accum_steps) == (93_600, 6_240, 16)
    assert b.samples_seen == 383_385_600


def test_train_transform_is_paper_default():
    t = R.train_transform(PAPER)
    n = names(t)
    assert n[0] == "RandomResizedCropAndInterpolation" and "RandomHorizontalFlip" in n
    rrc = t.transforms[0]
    assert rrc.scale == (0.08, 1.0) and rrc.size == (224, 224)
    ra = [x for x in t.transforms if type(x).__name__ == "RandAugment"][0]
    assert ra.num_layers == 2 and all(op.magnitude == 9 and op.magnitude_std == 0.5 for op in ra.ops)
    assert "ColorJitter" not in n  # inactive once RandAugment is on (as in timm/ConvNeXt)
    assert t(Image.new("RGB", (300, 260))).shape == (3, 224, 224)


def test_eval_transform_resize_256_center_224():
    t = R.eval_transform(PAPER)
    resize = t.transforms[0]
    assert type(resize).__name__ == "Resize" and resize.size == 256
    assert t.transforms[1].size == (224, 224)


def test_no_aug_preset_is_eval_pipeline():
    rec = {**PAPER, "augment": {"random_crop": False, "auto_augment": None, "hflip": 0.0,
                                 "mixup": 0.0, "cutmix": 0.0}}
    t = R.train_transform(rec)
    assert names(t) == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    mix, loss = R.mixup_and_loss(rec, 3)
    assert mix is None and isinstance(loss, LabelSmoothingCrossEntropy)


def test_mixup_cutmix_defaults():
    mix, loss = R.mixup_and_loss(PAPER, 3)
    assert isinstance(mix, Mixup) and isinstance(loss, SoftTargetCrossEntropy)
    assert (mix.mixup_alpha, mix.cutmix_alpha, mix.mix_prob, mix.switch_prob, mix.mode,
            mix.label_smoothing) == (0.8, 1.0, 1.0, 0.5, "batch", 0.1)


def test_optimizer_adamw_no_decay_on_bias_and_norm():
    model = build_model({"arch": "convnext_tiny", "kwargs": {"dims": [8, 8, 8, 8],
                         "depths": [1, 1, 1, 1]}}, 3, 32)
    opt = R.optimizer(PAPER, model)
    assert type(opt).__name__ == "AdamW"
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["eps"] == 1e-8
    decay = {g["weight_decay"]: g["params"] for g in opt.param_groups}
    assert set(decay) == {0.0, 0.3}
    assert all(p.ndim <= 1 for p in decay[0.0]) and all(p.ndim > 1 for p in decay[0.3])


def test_schedule_warmup_from_zero_then_cosine_to_min():
    rec = {**PAPER, "batch_size": 10, "micro_batch_size": 10, "samples_seen": 1000,
           "warmup_samples": 100}
    b = R.make_budget(rec, 500)
    assert (b.total_steps, b.warmup_steps) == (100, 10)
    p = torch.nn.Parameter(torch.zeros(2, 2))
    opt = torch.optim.AdamW([p], lr=rec["lr"])
    sched = R.scheduler(rec, opt, b)
    lrs = []
    for s in range(b.total_steps):
        sched.step_update(s)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == 0.0
    assert lrs[5] == pytest.approx(0.5e-3)
    assert lrs[10] == pytest.approx(1e-3)
    assert all(a >= b_ for a, b_ in zip(lrs[10:], lrs[11:]))
    mid = 10 + 45
    assert lrs[mid] == pytest.approx(1e-6 + 0.5 * (1e-3 - 1e-6) * (1 + math.cos(math.pi * 45 / 90)))
    assert lrs[-1] < 2e-5


def test_budget_errors():
    with pytest.raises(R.RecipeError, match="multiple"):
        R.make_budget({**PAPER, "micro_batch_size": 300}, 10**6)
    with pytest.raises(R.RecipeError, match="unknown augment"):
        R.augment_settings({"augment": {"mixupp": 0.1}})


def test_randaugment_extremes_run_with_pinned_pillow():
    # rand-m9-mstd0.5-inc1 can draw magnitude 10, i.e. posterize to 0 bits (a black image, as
    # with the Pillow the paper's timm ran on). Pillow 13 raises instead; pyproject pins 12.x.
    from timm.data.auto_augment import posterize

    out = posterize(Image.new("RGB", (8, 8), (200, 100, 50)), 0)
    assert out.getpixel((0, 0)) == (0, 0, 0)


def test_training_set_smaller_than_a_batch_is_one_batch():
    b = R.make_budget({**PAPER, "micro_batch_size": 256}, 300)   # 3 x 100 pseudo-dataset images
    assert (b.batch_size, b.micro_batch_size, b.accum_steps) == (256, 256, 1)
    b = R.make_budget({**PAPER, "micro_batch_size": 512}, 300)
    assert (b.batch_size, b.micro_batch_size) == (300, 300)
    assert b.total_steps == math.ceil(383385600 / 300)

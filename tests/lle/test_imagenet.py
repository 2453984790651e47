"""t15 (Whac-A-Mole's ImageNet shortcut gaps): the six columns against hand-computed cases, the
shift blocks and the BG-Aug composite pixel by pixel, and one LLR run end to end on sampled toy
shards (frozen backbone, heads initialised from its classifier)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

from vlmbias.lle.imagenet_shifts import BLOCKS, BackgroundSwap, ShiftBlocks, build_blocks
from vlmbias.lle.metrics import imagenet_shortcut_metrics, restricted_argmax


def onehot(pred, k=4):
    z = np.zeros((len(pred), k))
    z[np.arange(len(pred)), pred] = 1.0
    return z


def test_restricted_argmax_only_looks_at_the_subset():
    z = np.array([[9.0, 1.0, 2.0, 0.0], [0.0, 1.0, 5.0, 3.0]])
    assert restricted_argmax(z, [1, 3]).tolist() == [1, 3]
    with pytest.raises(ValueError):
        restricted_argmax(z, [4])


def test_the_six_columns_by_hand():
    y = np.array([0, 1, 2, 3, 3])                    # class 3 is the carton
    sets = {"val": (onehot([0, 1, 2, 0, 3]), y),      # 4 of 5 right: 80
            "val_w": (onehot([0, 3, 3, 3, 3]), y),    # 3 of 5 (1, 2 -> carton): 60; carton images 1/2 -> 2/2
            "val_stylized": (onehot([1, 1, 0, 3]), np.array([0, 1, 2, 3])),   # 2 of 4: 50
            "val_mixed_same": (onehot([0, 1, 2, 3]), np.array([0, 1, 2, 3])),  # 100
            "val_mixed_rand": (onehot([0, 0, 2, 0]), np.array([0, 1, 2, 3]))}  # 50
    # IN-R over classes {0, 1}: logits favour class 2 everywhere, the restriction must ignore it
    zr = np.array([[0.2, 0.1, 9.0, 0], [0.1, 0.2, 9.0, 0], [0.3, 0.1, 9.0, 0]])
    sets["val_rendition"] = (zr, np.array([0, 1, 1]))          # restricted preds 0, 1, 0: 2 of 3
    m = imagenet_shortcut_metrics(sets, carton=3, rendition_classes=[0, 1])
    assert m["in1k"] == pytest.approx(80)
    assert m["in_w_gap"] == pytest.approx(-20)
    assert m["carton_gap"] == pytest.approx(50)
    assert m["sin_gap"] == pytest.approx(50 - 80)
    assert m["in200"] == pytest.approx(100) and m["in_r"] == pytest.approx(200 / 3)
    assert m["in_r_gap"] == pytest.approx(200 / 3 - 100)
    assert m["in9_gap"] == pytest.approx(-50)


def test_in9_map_counts_unmapped_predictions_wrong():
    y9 = np.array([0, 1])
    sets = {"val_mixed_same": (onehot([2, 3]), y9), "val_mixed_rand": (onehot([2, 0]), y9)}
    m = imagenet_shortcut_metrics(sets, carton=3, in9_map=[-1, -1, 0, 1])  # 0, 1 unmapped
    assert m["mixed_same"] == 100 and m["mixed_rand"] == 50 and m["in9_gap"] == -50


def test_imagenet_w_must_be_the_val_images():
    with pytest.raises(ValueError, match="same order"):
        imagenet_shortcut_metrics({"val": (onehot([0, 1]), np.array([0, 1])),
                                   "val_w": (onehot([0, 1]), np.array([1, 0]))}, carton=3)


class Constant(Dataset):
    def __init__(self, n, value):
        self.n, self.value = n, value

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((1,), float(self.value)), 0


def test_shift_blocks_map_each_index_to_its_blocks_head():
    blocks = build_blocks(["original", "texture", "watermark"],
                          {n: (lambda v=i: Constant(3 + v, v)) for i, n in enumerate(BLOCKS)})
    data = ShiftBlocks(blocks, [0, 1, 3])
    assert data.sizes() == {"original": 3, "texture": 4, "watermark": 6}
    assert data.shift_of(torch.tensor([0, 2, 3, 6, 7, 12])).tolist() == [0, 0, 1, 1, 3, 3]
    assert float(data[7][0]) == 3.0   # the watermark block's item
    with pytest.raises(ValueError, match="unknown shift blocks"):
        build_blocks(["edges"], {})


class Masked(Dataset):
    """Image i: a flat colour c_i; its object mask: the left half; bg_only: another flat colour."""

    def __init__(self, colours, backgrounds):
        self.colours, self.backgrounds = colours, backgrounds

    def __len__(self):
        return len(self.colours)

    def image(self, i):
        return Image.new("RGB", (8, 8), self.colours[i])

    def extra(self, i, name):
        if name == "fg_mask":
            m = np.zeros((8, 8), np.uint8)
            m[:, :4] = 255
            return Image.fromarray(m, "L")
        return Image.new("RGB", (8, 8), self.backgrounds[i])


def test_background_swap_pastes_the_object_on_another_class_background():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    backgrounds = [(10, 10, 10), (200, 200, 200), (90, 90, 90)]
    ds = BackgroundSwap(Masked(colours, backgrounds), [0, 1, 1], size=8, scale=(1.0, 1.0), ratio=(1.0, 1.0),
                        hflip=0.0, mean=(0, 0, 0), std=(1, 1, 1))
    torch.manual_seed(0)
    for _ in range(5):
        L = ds.layers(0)
        assert L["bg_src"] in (1, 2)                 # always another class's background
        x, y = ds[0]
        assert y == 0
        assert torch.allclose(x[:, :, :3], torch.tensor([1.0, 0, 0]).view(3, 1, 1).expand(3, 8, 3), atol=1e-3)
    torch.manual_seed(1)
    srcs = {ds.layers(1)["bg_src"] for _ in range(10)}
    assert srcs == {0}                               # class 1's only other class is image 0's
    x, _ = ds[1]
    assert torch.allclose(x[:, :, 6:], torch.full((3, 8, 2), 10 / 255), atol=1e-3)


def test_background_swap_needs_masks_and_two_classes():
    with pytest.raises(TypeError, match="fg_mask"):
        BackgroundSwap(Constant(2, 0), [0, 1], 8, (1, 1), (1, 1), 0.0, (0, 0, 0), (1, 1, 1))
    with pytest.raises(ValueError, match="one class"):
        BackgroundSwap(Masked([(0, 0, 0)] * 2, [(0, 0, 0)] * 2), [0, 0], 8, (1, 1), (1, 1), 0.0, (0, 0, 0), (1, 1, 1))


SPLITS = {"train": 44, "train_stylized": 22, "val": 14, "val_stylized": 11, "val_rendition": 11,
          "val_mixed_same": 11, "val_mixed_rand": 11}


@pytest.fixture(scope="module")
def shortcut_world(tmp_path_factory):
    from vlmbias.shards.sampler import sample_dataset
    from vlmbias.toyworld import generate_source

    root = tmp_path_factory.mktemp("in_shortcuts")
    shards = [str(root / "raw" / f"{i:05d}.tar") for i in range(2)]
    (root / "raw").mkdir()
    generate_source("imagenet_shortcuts", 154, shards, image_size=32, seed=0)
    out = str(root / "samples")
    sample_dataset("imagenet_shortcuts", shards, out, 0, 0, seed=0, max_side=32, max_bad_fraction=0.0,
                   progress=False, splits=SPLITS)
    return out


def spec_for(sample_dir: str, method: str | None = None) -> dict:
    from vlmbias.lle.plan import LLR_RECIPE, imagenet_registry

    sets = {k: {"sample_dir": sample_dir, "split": k} for k in SPLITS}
    rec = {"input_size": 16, "batch_size": 11, "samples_seen": 44, "optimizer": "adamw", "lr": 1e-3,
           "weight_decay": 0.0, "sched": "cosine", "warmup_samples": 0, "label_smoothing": 0.0, "device": "cpu",
           "augment": {"scale": [0.5, 1.0], "mixup": 0.0, "cutmix": 0.0}}
    spec = {"name": "tiny", "backbone_name": "tiny", "seed": 0, "num_classes": 11, "carton": 10, "sets": sets,
            "backbone": {"builder": "timm", "arch": "resnet50", "kwargs": {"channels": [4, 8, 8, 8], "stem_width": 4}},
            "recipe": rec, "input_size": 16, "rendition_classes": None, "in9_map": None}
    if method:
        entry = imagenet_registry()[method]
        spec.update(method=method, row=entry["row"], recipe={**rec, **{k: v for k, v in LLR_RECIPE.items()},
                                                              "input_size": 16, "batch_size": 11, "samples_seen": 44,
                                                              "lr": 0.01, "device": "cpu"},
                    method_def={k: entry[k] for k in ("blocks", "heads", "watermark_p") if k in entry})
    return spec


def test_llr_on_the_toy_shortcut_world(shortcut_world, tmp_path, one_thread):
    from vlmbias.lle.imagenet import run_llr, train_backbone

    bb = train_backbone(spec_for(shortcut_world), str(tmp_path / "bb" / "model.pt"), str(tmp_path / "bb" / "m.json"),
                        progress=False, log=lambda s: None)
    cols = ("in1k", "in_w_gap", "carton_gap", "sin_gap", "in_r_gap", "in9_gap")
    assert all(np.isfinite(bb["test"][k]) for k in cols)
    assert bb["test"]["n"] == {"val": 14, "val_w": 14, "val_stylized": 11, "val_rendition": 11,
                               "val_mixed_same": 11, "val_mixed_rand": 11}
    weights = str(tmp_path / "bb" / "model.pt")
    # as_is: the trained backbone with its own classifier, loaded strictly -> the very same metrics
    asis = run_llr(spec_for(shortcut_world, "as_is"), weights, str(tmp_path / "asis" / "metrics.json"),
                   progress=False, log=lambda s: None)
    assert {k: asis["test"][k] for k in cols} == pytest.approx({k: bb["test"][k] for k in cols})
    lle = run_llr(spec_for(shortcut_world, "lle"), weights, str(tmp_path / "lle" / "metrics.json"),
                  progress=False, log=lambda s: None)
    assert lle["info"]["block_sizes"] == {"original": 44, "texture": 22, "background": 44, "watermark": 44}
    assert lle["steps"] == 4 and all(np.isfinite(lle["test"][k]) for k in cols)
    saved = json.load(open(tmp_path / "lle" / "metrics.json"))
    assert saved["method"] == "lle" and saved["row"] == "LLE"
    assert not (tmp_path / "lle" / "checkpoint.pt").exists()


def test_mae_style_checkpoint_keeps_its_classifier_for_the_heads(tmp_path):
    """paper.yaml's MAE fine-tuned ViTs: a local checkpoint in MAE's format ({"model": state dict},
    global average pooling + fc_norm) loads through the model spec's pretrained_file with its
    1000-class head kept, and LLE's heads start from it."""
    from vlmbias.lle.ensemble import LastLayerEnsemble
    from vlmbias.train.models import build_model

    spec = {"builder": "timm", "arch": "vit_base_patch16_224",
            "kwargs": {"global_pool": "avg", "embed_dim": 32, "depth": 1, "num_heads": 2}}
    src = build_model(spec, 1000, 32)
    assert src.fc_norm is not None and src.global_pool == "avg"
    torch.save({"model": src.state_dict(), "epoch": 99}, tmp_path / "mae_finetuned_vit_base.pth")
    loaded = build_model({**spec, "pretrained_file": str(tmp_path / "mae_finetuned_vit_base.pth")}, 1000, 32)
    assert torch.equal(loaded.head.weight, src.head.weight) and torch.equal(loaded.fc_norm.weight, src.fc_norm.weight)
    lle = LastLayerEnsemble(loaded, 1000, 4, freeze_backbone=True, init_heads_from_backbone=True)
    assert all(torch.equal(h.weight, src.head.weight) for h in lle.heads)


def test_torchvision_vit_swag_style_file_behind_timms_api(tmp_path):
    """paper.yaml's SWAG ViT-B/16: torchvision's vit_b_16 at 384 px from a local weights file
    (ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1's state dict), wrapped in timm's classifier API so
    LLR's heads start from its head; the wrapped forward is torchvision's."""
    import torchvision

    from vlmbias.lle.ensemble import LastLayerEnsemble
    from vlmbias.train.models import TorchvisionViT, build_model

    torch.manual_seed(0)
    src = torchvision.models.vit_b_16(image_size=32, num_classes=1000)   # the real architecture, at 32 px
    torch.save(src.state_dict(), tmp_path / "swag.pth")
    spec = {"builder": "torchvision", "arch": "vit_b_16", "pretrained_file": str(tmp_path / "swag.pth")}
    m = build_model(spec, 1000, 32)
    assert isinstance(m, TorchvisionViT) and m.num_features == 768
    x = torch.randn(2, 3, 32, 32)
    src.eval(), m.eval()
    with torch.no_grad():
        assert torch.allclose(m(x), src(x), atol=1e-5)
        f = m.forward_head(m.forward_features(x), pre_logits=True)
        assert torch.allclose(m.get_classifier()(f), src(x), atol=1e-5)
    lle = LastLayerEnsemble(m, 1000, 4, freeze_backbone=True, init_heads_from_backbone=True)
    assert all(torch.equal(h.weight, src.heads.head.weight) for h in lle.heads)

"""Model factory: every architecture of t02 builds from config, at paper and toy scale."""

import pytest
import torch

from vlmbias.train import models
from vlmbias.train.models import ModelSpecError, build_model, count_params

TOY = {
    "convnext_t": ({"builder": "timm", "arch": "convnext_tiny",
                    "kwargs": {"dims": [16, 32, 64, 128], "depths": [1, 1, 2, 1]}}, 32),
    "alexnet": ({"builder": "torchvision", "arch": "alexnet", "width": 0.25}, 64),
    "vgg16": ({"builder": "timm", "arch": "vgg16", "width": 0.125}, 32),
    "resnet50": ({"builder": "timm", "arch": "resnet50",
                  "kwargs": {"channels": [16, 32, 64, 128], "stem_width": 16}}, 32),
    "vit_s": ({"builder": "timm", "arch": "vit_small_patch16_224",
               "kwargs": {"patch_size": 4, "embed_dim": 96, "depth": 4, "num_heads": 3}}, 32),
}


@pytest.mark.parametrize("name", sorted(TOY))
def test_toy_models_forward(name):
    spec, size = TOY[name]
    m = build_model(spec, num_classes=3, input_size=size)
    assert models.smoke_forward(m, size).shape == (2, 3)
    assert count_params(m) < 4_000_000  # CPU-sized


def test_paper_models_are_the_library_models():
    # Exact parameter counts of the real architectures with a 3-way head.
    n = count_params(build_model({"arch": "convnext_tiny"}, 3, 224))
    assert n == 27_822_435  # the research notes' count for ConvNeXt-T, 3 classes
    vgg = build_model({"arch": "vgg16"}, 3, 224)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in vgg.modules())  # VGG-16 w/o BN
    alex = build_model({"builder": "torchvision", "arch": "alexnet"}, 3, 224)
    assert type(alex).__module__.startswith("torchvision")
    assert alex.classifier[-1].out_features == 3


def test_smallest_convnext_is_about_7k_params():
    spec = {"arch": "convnext_tiny", "kwargs": {"dims": [10, 10, 10, 10], "depths": [1, 1, 1, 1]}}
    assert count_params(build_model(spec, 3, 32)) == 7_373


def test_maxpool_stem_keeps_stride_and_width():
    spec = {"arch": "convnext_tiny", "kwargs": {"dims": [10, 20, 40, 80], "depths": [1, 1, 1, 1]}}
    patch, pool = build_model(spec, 3, 32), build_model({**spec, "stem": "maxpool"}, 3, 32)
    x = torch.randn(2, 3, 32, 32)
    assert patch.stem(x).shape == pool.stem(x).shape == (2, 10, 8, 8)
    kinds = [type(m).__name__ for m in pool.stem]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert pool.stem[0].stride == (2, 2) and pool(x).shape == (2, 3)
    # only the stem differs: every other parameter has the patchify model's shape
    rest = lambda m: {k: v.shape for k, v in m.state_dict().items() if not k.startswith("stem.")}  # noqa: E731
    assert rest(patch) == rest(pool)


def test_upsample_feeds_the_network_a_larger_copy_of_the_same_image():
    """The toy AlexNet gets the others' 32-px images, upsampled inside the model to the 64 px its
    stride-4 stem and three max-pools need."""
    spec = {"builder": "torchvision", "arch": "alexnet", "width": 0.25}
    up = build_model({**spec, "upsample": 64}, 3, 32)
    assert isinstance(up, models.Upsampled) and up.size == 64
    assert models.smoke_forward(up, 32).shape == (2, 3)
    plain = build_model(spec, 3, 64)
    assert count_params(up) == count_params(plain)
    up.net.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 32, 32)
    big = torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
    up.eval(), plain.eval()
    with torch.no_grad():
        assert torch.allclose(up(x), plain(big))
    with pytest.raises(ModelSpecError, match="exclude each other"):
        build_model({**spec, "upsample": 64, "input_size": 64}, 3, 32)
    vit = build_model({"arch": "vit_small_patch16_224", "upsample": 48,
                       "kwargs": {"patch_size": 4, "embed_dim": 48, "depth": 1, "num_heads": 3}}, 3, 32)
    assert vit.net.patch_embed.img_size == (48, 48) and models.smoke_forward(vit, 32).shape == (2, 3)
    with pytest.raises(RuntimeError):   # without it, 32 px is too small for AlexNet
        models.smoke_forward(build_model(spec, 3, 32), 32)


@pytest.mark.parametrize("spec,msg", [
    ({"arch": "resnet50", "stem": "maxpool"}, "ConvNeXts only"),
    ({"arch": "convnext_tiny", "stem": "deep"}, "unknown stem"),
    ({"builder": "torchvision", "arch": "alexnet", "stem": "maxpool"}, "ConvNeXts only"),
    ({"arch": "convnext_tiny", "stem": "maxpool", "pretrained_file": "x.pt"}, "untrained"),
])
def test_bad_stems(spec, msg):
    with pytest.raises(ModelSpecError, match=msg):
        build_model(spec, 3, 32)


def test_vit_gets_input_size():
    m = build_model({"arch": "vit_small_patch16_224", "kwargs": {"patch_size": 4, "embed_dim": 48,
                     "depth": 1, "num_heads": 3}}, 3, 24)
    assert models.smoke_forward(m, 24).shape == (2, 3)


@pytest.mark.parametrize("spec,msg", [
    ({"arch": "no_such_model"}, "no model named"),
    ({"builder": "keras", "arch": "x"}, "unknown model builder"),
    ({"arch": "resnet50", "width": 0.5}, "width"),
    ({}, "arch"),
])
def test_bad_specs(spec, msg):
    with pytest.raises(ModelSpecError, match=msg):
        build_model(spec, 3, 32)


@pytest.mark.parametrize("builder", ["timm", "torchvision"])
def test_local_pretrained_weights_with_a_new_classifier(builder, tmp_path):
    """pretrained_file: the backbone takes the file's weights, a classifier of another size is
    re-initialised; a torchvision model other than AlexNet builds too."""
    import timm
    import torchvision

    source = (timm.create_model("resnet18", num_classes=1000) if builder == "timm"
              else torchvision.models.resnet18(num_classes=1000))
    torch.save(source.state_dict(), tmp_path / "w.pth")
    spec = {"builder": builder, "arch": "resnet18"}
    fresh = build_model(spec, 3, 32)
    loaded = build_model({**spec, "pretrained_file": str(tmp_path / "w.pth")}, 3, 32)
    assert torch.equal(loaded.conv1.weight, source.conv1.weight)
    assert not torch.equal(fresh.conv1.weight, source.conv1.weight)
    assert loaded.fc.weight.shape == (3, 512)
    with pytest.raises(ModelSpecError, match="pretrained_file"):
        build_model({"builder": "torchvision", "arch": "resnet18", "pretrained": True}, 3, 32)

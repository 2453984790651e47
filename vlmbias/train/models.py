"""Model factory for the classification families (dataset classification and later probes).

A model is described in config by a small spec::

    {builder: timm | torchvision, arch: <registered name>, kwargs: {...}, width: 1.0}

``timm`` specs go through ``timm.create_model`` (every timm constructor knob, e.g. ConvNeXt
``dims``/``depths``, ViT ``embed_dim``/``depth``/``patch_size``, ResNet ``channels``, is a
``kwargs`` entry). ``width`` exists only for the two families whose library factories have no
width knob: timm's VGG (the conv plan and the 4096-wide MLP are fixed) and torchvision's AlexNet.
With ``width == 1`` they are the library's models unchanged; below 1 the same topology is built
with every channel count scaled, which is what the toy world uses to stay CPU-sized.
``stem: maxpool`` (timm ConvNeXts only) replaces the 4x4 stride-4 patchify stem by a stem of the
same stride and width in ResNet's shape -- 3x3 stride-2 conv, BatchNorm, ReLU, 3x3 stride-2
max-pool (``maxpool_stem``); the toy ConvNeXts use it, see there why.
Models are randomly initialised (dataset classification trains from scratch) unless the spec
names weights: ``pretrained: true`` (the library's own, by timm tag such as
``resnet50.tv_in1k``, downloaded by timm) or ``pretrained_file: PATH`` (a local state dict of
``arch``, timm or torchvision). timm keeps the file's classifier only when ``num_classes`` is
the architecture's default (1000 for the ImageNet models) and re-initialises it otherwise, even
where the file's head has the asked shape (``vlmbias.lle.imagenet.build_backbone`` loads its own
11-class backbone strictly for that reason); torchvision: re-initialised where the shapes differ.
"""

from __future__ import annotations

import copy
from typing import Any

import timm
import torch
import torchvision
from timm.models import vgg as timm_vgg
from torch import nn

_VIT_PREFIXES = ("vit_", "deit", "eva", "beit", "flexivit")


class ModelSpecError(ValueError):
    pass


def _scaled(c: int, width: float) -> int:
    return max(4, int(round(c * width)))


def _timm_vgg(arch: str, num_classes: int, width: float, kwargs: dict) -> nn.Module:
    if width == 1.0:
        return timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs)
    if "_bn" in arch:
        kwargs = {**kwargs, "norm_layer": nn.BatchNorm2d}
    plan_name = arch.split("_")[0]
    if plan_name not in timm_vgg.cfgs:
        raise ModelSpecError(f"unknown VGG variant {arch!r}")
    plan = [c if c == "M" else _scaled(c, width) for c in timm_vgg.cfgs[plan_name]]
    kwargs = dict(kwargs)
    mlp_ratio = kwargs.pop("mlp_ratio", width)
    return timm_vgg.VGG(plan, num_classes=num_classes, mlp_ratio=mlp_ratio, **kwargs)


def _torchvision_alexnet(num_classes: int, width: float, kwargs: dict) -> nn.Module:
    model = torchvision.models.get_model("alexnet", weights=None, num_classes=num_classes, **kwargs)
    if width == 1.0:
        return model
    # Same topology as torchvision's AlexNet (5 convs, 3 max-pools, 6x6 pool, 3 FC layers),
    # every width scaled; the forward pass stays torchvision's.
    c = [_scaled(x, width) for x in (64, 192, 384, 256, 256)]
    fc = _scaled(4096, width)
    model.features = nn.Sequential(
        nn.Conv2d(3, c[0], kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c[0], c[1], kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c[1], c[2], kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c[2], c[3], kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c[3], c[4], kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )
    dropout = model.classifier[0].p
    model.classifier = nn.Sequential(
        nn.Dropout(p=dropout), nn.Linear(c[4] * 6 * 6, fc), nn.ReLU(inplace=True),
        nn.Dropout(p=dropout), nn.Linear(fc, fc), nn.ReLU(inplace=True),
        nn.Linear(fc, num_classes),
    )
    return model


def _load_torchvision(model: nn.Module, path: str) -> nn.Module:
    """A local state dict into a torchvision model; entries whose shape differs (the classifier
    of another number of classes) keep their fresh initialisation."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = model.state_dict()
    skipped = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    missing = model.load_state_dict({k: v for k, v in state.items() if k not in skipped}, strict=False).missing_keys
    if set(missing) - set(skipped):
        raise ModelSpecError(f"{path}: no weights for {sorted(set(missing) - set(skipped))[:5]}...")
    return model


class TorchvisionViT(nn.Module):
    """A torchvision ``VisionTransformer`` (e.g. ``vit_b_16`` with the SWAG weights) behind timm's
    classifier API -- ``forward_features`` (the encoder's tokens), ``forward_head(x, pre_logits)``
    (the class token, then the head), ``num_features``, ``get_classifier()`` -- so last-layer
    retraining treats it as any timm backbone. The forward pass is torchvision's own."""

    def __init__(self, vit: nn.Module):
        super().__init__()
        self.vit = vit
        self.num_features = int(vit.hidden_dim)

    def forward_features(self, x):
        x = self.vit._process_input(x)
        cls = self.vit.class_token.expand(x.shape[0], -1, -1)
        return self.vit.encoder(torch.cat([cls, x], dim=1))

    def forward_head(self, x, pre_logits: bool = False):
        x = x[:, 0]
        return x if pre_logits else self.vit.heads(x)

    def get_classifier(self) -> nn.Module:
        return self.vit.heads[-1]

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def maxpool_stem(out_chs: int, in_chans: int = 3) -> nn.Sequential:
    """A stride-4 stem in ResNet's shape: 3x3 stride-2 conv, BatchNorm, ReLU, 3x3 stride-2 max-pool.

    Why the toy ConvNeXts use it (measured on the subtle-cue world, three sources that differ by
    one faint low-level cue each, 64 px, 16,000 samples seen; chance 33%): with its patchify stem
    (a linear 4x4 stride-4 conv, then a per-position LayerNorm) the toy ConvNeXt stays at chance
    (37.7%) whatever its width, depth, norm, activation, layer scale, init or learning rate, while
    the toy ResNet-50 reaches 74.7%. The ResNet loses it with LayerNorm2d in place of BatchNorm
    (39.1%); the ConvNeXt gains it with this stem (64.3%; 76.9% at 48,000 samples, ResNet-50
    87.3%), not with BatchNorm + ReLU after a strided conv and no pooling (38.8-39.8%), barely
    with average instead of max pooling (46.4%) or LayerNorm instead of BatchNorm (57.4%). A
    faint cue is a weak channel among strong content channels: BatchNorm scales each channel
    to unit variance over the batch, and max-pooling its rectified response at twice the stem's
    resolution is a local energy detector that a linear strided conv is not. The real ConvNeXt-T
    keeps its patchify stem (config/paper.yaml): it learns such cues over 10^4 times more samples.
    """
    return nn.Sequential(nn.Conv2d(in_chans, out_chs, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out_chs),
                         nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))


def _with_stem(model: nn.Module, stem: str | None, arch: str) -> nn.Module:
    if stem is None:
        return model
    if stem != "maxpool":
        raise ModelSpecError(f"{arch}: unknown stem {stem!r} (the one option is 'maxpool')")
    if not arch.startswith("convnext") or not isinstance(getattr(model, "stem", None), nn.Sequential):
        raise ModelSpecError(f"{arch}: 'stem: maxpool' applies to timm ConvNeXts only")
    model.stem = maxpool_stem(model.stem[0].out_channels, model.stem[0].in_channels)
    return model


class Upsampled(nn.Module):
    """A network fed its images upsampled (bilinear) to ``size`` px: an architecture that needs a
    larger input than the others get (the toy AlexNet's stride-4 stem and three max-pools need
    >= 63 px) sees the same image detail as they do."""

    def __init__(self, net: nn.Module, size: int):
        super().__init__()
        self.net, self.size = net, int(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net(x)


def build_model(spec: dict[str, Any], num_classes: int, input_size: int) -> nn.Module:
    """Build a classifier from a config model spec (randomly initialised unless it names weights;
    ``upsample: N``: its input upsampled to N px inside the model, see ``Upsampled``)."""
    if spec.get("upsample"):
        if spec.get("input_size"):
            raise ModelSpecError(f"{spec.get('arch')}: 'upsample' and 'input_size' exclude each other (upsample "
                                 "keeps the recipe's input size and enlarges it inside the model)")
        size = int(spec["upsample"])   # the network's own input size (a ViT's img_size)
        return Upsampled(build_model({k: v for k, v in spec.items() if k != "upsample"}, num_classes, size), size)
    builder = spec.get("builder", "timm")
    pretrained_file = spec.get("pretrained_file")
    pretrained = bool(spec.get("pretrained")) or bool(pretrained_file)
    if spec.get("stem") is not None:
        if builder != "timm":
            raise ModelSpecError(f"{spec.get('arch')}: 'stem' applies to timm ConvNeXts only")
        if pretrained:
            raise ModelSpecError(f"{spec.get('arch')}: 'stem' with pretrained weights would leave the new stem "
                                 "untrained")
    arch = spec.get("arch")
    if not arch:
        raise ModelSpecError(f"model spec without 'arch': {spec}")
    kwargs = copy.deepcopy(spec.get("kwargs") or {})
    # YAML gives lists; timm's constructors accept lists and tuples alike.
    width = float(spec.get("width", 1.0))
    if builder == "timm":
        if arch.startswith("vgg"):
            return _timm_vgg(arch, num_classes, width, kwargs)
        if width != 1.0:
            raise ModelSpecError(
                f"{arch}: 'width' applies only to vgg*/alexnet; set the timm kwargs instead")
        if arch.startswith(_VIT_PREFIXES):
            kwargs.setdefault("img_size", input_size)
        if not timm.is_model(arch):
            raise ModelSpecError(f"timm has no model named {arch!r}")
        if pretrained_file:
            kwargs["pretrained_cfg_overlay"] = {"file": pretrained_file}
        model = timm.create_model(arch, pretrained=pretrained, num_classes=num_classes, **kwargs)
        return _with_stem(model, spec.get("stem"), arch)
    if builder == "torchvision":
        if arch == "alexnet":
            return _torchvision_alexnet(num_classes, width, kwargs)
        if width != 1.0:
            raise ModelSpecError(f"{arch}: 'width' applies only to alexnet among torchvision models")
        if spec.get("pretrained") and not pretrained_file:
            raise ModelSpecError(f"{arch}: torchvision's own weights are not wired (their classifiers differ "
                                 "per architecture): use builder timm (e.g. resnet50.tv_in1k) or pretrained_file")
        if arch.startswith("vit_"):
            kwargs.setdefault("image_size", input_size)
        model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **kwargs)
        model = _load_torchvision(model, pretrained_file) if pretrained_file else model
        return TorchvisionViT(model) if isinstance(model, torchvision.models.VisionTransformer) else model
    raise ModelSpecError(f"unknown model builder {builder!r} (use 'timm' or 'torchvision')")


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def smoke_forward(model: nn.Module, input_size: int, batch: int = 2) -> torch.Tensor:
    """One forward pass on noise: checks that a spec and an input size fit together."""
    model.eval()
    with torch.no_grad():
        return model(torch.randn(batch, 3, input_size, input_size))

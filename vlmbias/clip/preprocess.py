"""Image preprocessings of the embedding cache, by name: ``clip`` (the model's own eval
transform, open_clip's) and the official PerceptionCLIP scripts' Waterbirds and CelebA
transforms, which ignore CLIP's (research notes §3):

* ``waterbirds_official``: Resize((256, 256)), CenterCrop(224), ToTensor, Normalize with the
  ImageNet mean as mean AND as std (the official code's slip, kept: it is what the paper ran);
* ``celeba_official``: CenterCrop(178), Resize((224, 224)), ToTensor, Normalize(ImageNet mean, std);
* ``imagenet_w``: the model's own transform with ImageNet-W's watermark (``imagenet_w.AddWatermark``
  at the model's input size) inserted after its resize and crop (Whac-A-Mole's IN-W; t15's CLIP rows).

The sizes are the official ones for a 224-px model and scale with the model's input size
(a 64-px toy CLIP crops 64 of 73).
"""

from __future__ import annotations

from typing import Callable

from torchvision import transforms as T

from vlmbias.clip.spec import ClipError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NAMES = ("clip", "waterbirds_official", "celeba_official", "imagenet_w")


def transform(name: str, bundle) -> Callable:
    size = bundle.image_size

    def scaled(n: int) -> int:
        return round(n * size / 224)

    if name == "clip":
        return bundle.preprocess
    if name == "waterbirds_official":
        return T.Compose([T.Resize((scaled(256), scaled(256))), T.CenterCrop(size), T.ToTensor(),
                          T.Normalize(IMAGENET_MEAN, IMAGENET_MEAN)])
    if name == "celeba_official":
        return T.Compose([T.CenterCrop(scaled(178)), T.Resize((size, size)), T.ToTensor(),
                          T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    if name == "imagenet_w":
        from vlmbias.lle.watermark import ImageNetW, watermarked

        return watermarked(bundle.preprocess, ImageNetW(size))
    raise ClipError(f"unknown preprocessing {name!r} (known: {list(NAMES)})")

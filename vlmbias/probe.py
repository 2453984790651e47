"""Linear probing of a frozen ViT, following MAE's ``main_linprobe.py`` (research notes §4.8,
§4.9, checklist item 9).

``LinearProbe`` wraps any timm ``VisionTransformer`` (an MAE encoder, or a supervised ViT whose
own head is ignored): the encoder is frozen and kept in eval mode, the feature is the class token
after block ``layer`` passed through the encoder's final norm (MAE's ``--cls_token`` probe uses
the last block; Table 8 sweeps blocks 8/9/10 of 12), and the head is MAE's
``BatchNorm1d(affine=False, eps=1e-6)`` + ``Linear`` (weight trunc-normal std 0.01, bias 0).
It trains through the project's one loop, ``train.fit``, which leaves frozen parameters out of
the optimizer; ``probe_recipe_defaults`` gives MAE's probe recipe in this project's format.

One timm detail matters for faithfulness: timm's ``Lars`` only applies the trust ratio when a
group's weight decay is non-zero (or ``always_adapt`` is set), so with MAE's weight decay 0 the
plain ``create_optimizer_v2(opt="lars")`` is SGD with momentum at lr 6.4. MAE's LARS (from MoCo
v3) adapts every parameter with more than one dimension regardless of weight decay and leaves
1-D ones (biases) alone; ``mae_lars_param_groups`` builds exactly those groups, and
``recipe.optimizer`` passes it to timm's ``create_optimizer_v2`` for ``optimizer: lars``.
"""

from __future__ import annotations

from typing import Any

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import VisionTransformer
from torch import nn

# MAE's linear-probe settings (main_linprobe.py defaults and LINPROBE.md's command).
PROBE_BLR = 0.1
PROBE_BATCH = 16384          # 512 per GPU x 32 GPUs
PROBE_MICRO_BATCH = 512      # per forward pass: the BatchNorm statistics of one MAE GPU
PROBE_EPOCHS = 90
PROBE_WARMUP_EPOCHS = 10


class LinearProbe(nn.Module):
    """Frozen timm ViT + MAE's linear-probe head on the class token after block ``layer``."""

    def __init__(self, encoder: VisionTransformer, num_classes: int, layer: int | None = None):
        super().__init__()
        if not isinstance(encoder, VisionTransformer):
            raise TypeError(f"LinearProbe needs a timm VisionTransformer (for an MAE use "
                            f"vlmbias.mae.encoder_of(mae)), got {type(encoder).__name__}")
        if encoder.cls_token is None:
            raise ValueError("LinearProbe uses the class token, but this ViT has none")
        depth = len(encoder.blocks)
        idx = depth - 1 if layer is None else int(layer)
        if idx < 0:
            idx += depth
        if not 0 <= idx < depth:
            raise ValueError(f"layer {layer} is out of range for a ViT with {depth} blocks")
        self.layer = idx
        self.encoder = encoder
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        dim = int(encoder.embed_dim)
        self.head = nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6),
                                  nn.Linear(dim, int(num_classes)))
        trunc_normal_(self.head[1].weight, std=0.01)
        nn.init.zeros_(self.head[1].bias)
        self.encoder.eval()

    def train(self, mode: bool = True) -> "LinearProbe":
        """Switches the head only: the frozen encoder stays in eval mode (no dropout, no
        drop-path, no batch statistics)."""
        super().train(mode)
        self.encoder.eval()
        return self

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D): the class token after block ``layer``, through the encoder's final norm. The
        blocks after ``layer`` are not run (``stop_early``)."""
        out = self.encoder.forward_intermediates(
            x, indices=[self.layer], return_prefix_tokens=True, norm=True, stop_early=True,
            output_fmt="NLC", intermediates_only=True)
        _, prefix = out[0]
        return prefix[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).float())


def probe_lr(blr: float, batch: int) -> float:
    """MAE's linear lr scaling rule: lr = blr x batch / 256."""
    return float(blr) * int(batch) / 256


def epochs_to_samples(epochs: float, n_train: int) -> int:
    """An epoch budget as this project's samples-seen budget."""
    return int(round(float(epochs) * int(n_train)))


def probe_recipe_defaults(n_train: int | None = None, *, blr: float = PROBE_BLR,
                          batch_size: int = PROBE_BATCH,
                          micro_batch_size: int | None = PROBE_MICRO_BATCH,
                          epochs: float = PROBE_EPOCHS, warmup_epochs: float = PROBE_WARMUP_EPOCHS,
                          input_size: int = 224) -> dict[str, Any]:
    """MAE's linear-probe recipe as a ``train:`` recipe dict (``vlmbias.recipe`` format).

    LARS (momentum 0.9, trust coefficient 0.001), weight decay 0, lr = blr x batch / 256 with
    blr 0.1 and batch 16384 (lr 6.4), 90 epochs with 10 linear warmup epochs then per-step cosine
    to 0, cross-entropy without label smoothing; RandomResizedCrop (scale 0.08-1, bicubic) + flip,
    no RandAugment, Mixup or CutMix; evaluation resize 256 / centre crop 224, ImageNet mean/std.
    The batch is accumulated from micro batches of 512, MAE's per-GPU batch, so the head's
    BatchNorm sees the statistics MAE's did. ``blr``, ``epochs`` and ``warmup_epochs`` are kept in
    the dict for the record (``recipe.py`` ignores them); with ``n_train`` the epochs become
    ``samples_seen`` / ``warmup_samples``.

    One known deviation: MAE crops with its own TF-style RandomResizedCrop (one draw, clipped)
    where timm's transform retries up to 10 draws. LARS follows MAE through
    ``mae_lars_param_groups`` (see the module docstring)."""
    if micro_batch_size is not None and int(micro_batch_size) > int(batch_size):
        micro_batch_size = batch_size
    recipe: dict[str, Any] = {
        "input_size": int(input_size), "batch_size": int(batch_size),
        "optimizer": "lars", "blr": float(blr), "lr": probe_lr(blr, batch_size),
        "min_lr": 0.0, "weight_decay": 0.0,
        "epochs": epochs, "warmup_epochs": warmup_epochs,
        "label_smoothing": 0.0, "interpolation": "bicubic", "crop_pct": 0.875,
        "augment": {"random_crop": True, "scale": [0.08, 1.0], "ratio": [0.75, 1.3333333],
                    "hflip": 0.5, "auto_augment": None, "color_jitter": 0.0,
                    "mixup": 0.0, "cutmix": 0.0},
    }
    if micro_batch_size is not None:
        recipe["micro_batch_size"] = int(micro_batch_size)
    if n_train is not None:
        recipe["samples_seen"] = epochs_to_samples(epochs, n_train)
        recipe["warmup_samples"] = epochs_to_samples(warmup_epochs, n_train)
    return recipe


def mae_lars_param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Parameter groups that make timm's ``Lars`` behave as MAE's / MoCo v3's LARS.

    Trainable parameters with more than one dimension get the trust ratio always
    (``always_adapt``) and the optimizer's weight decay; 1-D ones (biases, norm scales) get
    neither. Pass as ``create_optimizer_v2(model, "lars", ..., param_group_fn=...)``."""
    adapt, plain = [], []
    for p in model.parameters():
        if p.requires_grad:
            (adapt if p.ndim > 1 else plain).append(p)
    groups: list[dict[str, Any]] = []
    if adapt:
        groups.append({"params": adapt, "always_adapt": True})
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0, "always_adapt": False})
    return groups


__all__ = ["LinearProbe", "epochs_to_samples", "mae_lars_param_groups", "probe_lr",
           "probe_recipe_defaults"]

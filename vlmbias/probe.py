"""Linear probing of a frozen ViT, following MAE's ``main_linprobe.py`` (research notes §4.8,
§4.9, checklist item 9).

``LinearProbe`` wraps any timm ``VisionTransformer`` (an MAE encoder, or a supervised ViT whose
own head is ignored): the encoder is frozen and kept in eval mode, the feature is the class token
after block ``layer`` passed through the encoder's final norm (MAE's ``--cls_token`` probe uses
the last block; Table 8 sweeps blocks 8/9/10 of 12), and the head is MAE's
``BatchNorm1d(affine=False, eps=1e-6)`` + ``Linear`` (weight trunc-normal std 0.01, bias 0).
It trains through the project's one loop, ``train.fit``, which leaves frozen parameters out of
the optimizer; ``vlmbias.ssl_recipes.probe_recipe_defaults`` gives MAE's probe recipe in this
project's format.

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


__all__ = ["LinearProbe", "mae_lars_param_groups"]

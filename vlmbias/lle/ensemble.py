"""Last Layer Ensemble (Li et al., CVPR 2023; official ``model/classifiers.py::LastLayerEnsemble``,
research notes §3.1): K linear heads ("last layers"), one per distribution shift, and a linear
shift predictor (features -> K), on one shared feature extractor.

- training: every sample trains the head of its own shift type and the shift predictor,
  ``CE(head_{d}(f), y) + CE(shift(f), d)`` with equal weights (:class:`LLEObjective`);
- inference: ``sum_k softmax(shift(f))_k * head_k(f)``, a soft, input-dependent weighting of the
  heads' **logits** (not of their probabilities): what ``forward`` returns, so the ensemble is
  evaluated like any classifier.

Two flavours, as the official code: UrbanCars trains the whole network end to end (3 heads,
fresh); ImageNet retrains the last layers on a frozen backbone (``freeze_backbone``: eval mode,
no gradient, so BatchNorm statistics stay put) with every head initialised from the backbone's
own classifier (``init_heads_from_backbone``), the shift predictor fresh.

The backbone is a timm model (``forward_features``, ``forward_head(f, pre_logits=True)``,
``num_features``, ``get_classifier()``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from vlmbias.train.loop import map_batches
from vlmbias.train.objectives import Objective


class LastLayerEnsemble(nn.Module):
    def __init__(self, backbone: nn.Module, num_classes: int, num_shifts: int,
                 freeze_backbone: bool = False, init_heads_from_backbone: bool = False):
        super().__init__()
        if num_shifts < 1:
            raise ValueError(f"LastLayerEnsemble: num_shifts must be >= 1, got {num_shifts}")
        self.backbone = backbone
        self.num_classes, self.num_shifts = int(num_classes), int(num_shifts)
        self.freeze_backbone = bool(freeze_backbone)
        dim = int(backbone.num_features)
        self.heads = nn.ModuleList(nn.Linear(dim, num_classes) for _ in range(num_shifts))
        self.shift_predictor = nn.Linear(dim, num_shifts)
        if init_heads_from_backbone:
            fc = backbone.get_classifier()
            if not isinstance(fc, nn.Linear) or fc.weight.shape != (num_classes, dim):
                raise ValueError(f"LastLayerEnsemble: the backbone's classifier {fc} is not a "
                                 f"Linear({dim}, {num_classes}); cannot initialise the heads from it")
            with torch.no_grad():
                for h in self.heads:
                    h.weight.copy_(fc.weight)
                    h.bias.copy_(fc.bias)
        if self.freeze_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.freeze_backbone:
            with torch.no_grad():
                return self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True)
        return self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True)

    def all_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(every head's logits ``[B, K, C]``, shift logits ``[B, K]``): the training forward."""
        f = self.features(x)
        return torch.stack([h(f) for h in self.heads], 1), self.shift_predictor(f)

    @staticmethod
    def combine(head_logits: torch.Tensor, shift_logits: torch.Tensor) -> torch.Tensor:
        """The official inference: the shift-softmax-weighted sum of the heads' logits."""
        w = shift_logits.float().softmax(1)
        return (w.unsqueeze(2) * head_logits.float()).sum(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(*self.all_logits(x))


def ensemble_outputs(model: LastLayerEnsemble, ds: Dataset, device: torch.device,
                     batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the ensemble's prediction ``[N]``, every head's prediction ``[N, K]``, the shift
    predictor's softmax ``[N, K]``) over ``ds`` in order, the model in eval mode, from one pass
    (``vlmbias.train.loop.map_batches``): the prediction is :meth:`LastLayerEnsemble.combine` of
    the same logits, what ``model(x)`` gives; the parts it mixes are for
    ``vlmbias.lle.metrics.ensemble_diagnostics``."""
    def parts(m: LastLayerEnsemble, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        heads, shift = m.all_logits(x)
        return m.combine(heads, shift).argmax(-1), heads.float().argmax(-1), shift.float().softmax(1)

    outputs, _ = map_batches(model, ds, device, batch_size, parts, progress=False,
                             desc="ensemble_outputs")
    return outputs


def lle_loss(head_logits: torch.Tensor, shift_logits: torch.Tensor, y: torch.Tensor,
             shift: torch.Tensor) -> torch.Tensor:
    """``CE(head_{shift_i}(x_i), y_i) + CE(shift_logits_i, shift_i)``, batch means, weight 1 each."""
    own = head_logits[torch.arange(len(y), device=head_logits.device), shift]
    ce = nn.functional.cross_entropy
    return ce(own.float(), y) + ce(shift_logits.float(), shift)


class LLEObjective(Objective):
    """LLE's loss through the one loop; ``shift_of(idx)`` gives each sample's shift type from its
    dataset index (UrbanCars: the index's block of the concatenated original / BG / CoObj set)."""

    def __init__(self, shift_of):
        self.shift_of = shift_of

    def loss(self, model: LastLayerEnsemble, x, target, idx):
        heads, shift = model.all_logits(x)
        d = torch.as_tensor(self.shift_of(idx), dtype=torch.long, device=heads.device)
        return lle_loss(heads, shift, target, d)

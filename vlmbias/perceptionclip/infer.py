"""PerceptionCLIP's two steps, in log space (research notes §1.3, §1.4).

Scores f(y, z; x) = logit_scale · cos(image, text(y, z)) come from a text head (one row per
(class, attribute value), class-major) applied to the normalised image features.

* Step 1, P(z|x) at temperature τ: ClassAttr sums the class-conditioned prompts over classes,
  log P(z|x) = logsumexp_y f(y,z)/τ - logsumexp_{y,z'} f(y,z')/τ; PureAttr uses the prompts
  with the generic word, log P(z|x) = log_softmax_z g(z)/τ.
* Step 2: log P(y|x,z) = log_softmax_y f(y,z) (temperature 1, as the official code), and
  log P(y|x) = logsumexp_z (log P(y|x,z) + log P(z|x)); the prediction is its argmax.

ClassAttr at τ = 1 is the score-level ensemble logsumexp_z f(y,z) (tested); |Z| = 1 is plain
zero-shot. Group metrics as the official evaluation: average over all images, worst of the
(label, group) cells (an empty cell counts 0), gap = average - worst.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def scores(features: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
    """[N, C]: the head's rows (already scaled by logit_scale) against L2-normalised features."""
    return F.normalize(features.float(), dim=-1) @ head.float().T


def class_attr_log_pz(f: torch.Tensor, tau: float) -> torch.Tensor:
    """ClassAttr: f [N, Y, Z] -> log P(z|x) [N, Z]."""
    s = torch.logsumexp(f / tau, dim=1)
    return s - torch.logsumexp(s, dim=1, keepdim=True)


def pure_attr_log_pz(g: torch.Tensor, tau: float) -> torch.Tensor:
    """PureAttr: g [N, Z] (prompts with the generic word) -> log P(z|x) [N, Z]."""
    return F.log_softmax(g / tau, dim=1)


def log_p_y(f: torch.Tensor, log_pz: torch.Tensor) -> torch.Tensor:
    """log P(y|x) [N, Y] = logsumexp_z (log_softmax_y f(y,z) + log P(z|x))."""
    return torch.logsumexp(F.log_softmax(f, dim=1) + log_pz[:, None, :], dim=2)


def group_metrics(pred: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor,
                  n_labels: int = 2, n_groups: int = 2) -> dict:
    """Average and worst-group accuracy (%) over the (label, group) cells, and their gap."""
    cells = {}
    for y in range(n_labels):
        for g in range(n_groups):
            sel = (labels == y) & (groups == g)
            cells[f"{y}/{g}"] = 100.0 * float((pred[sel] == y).double().mean()) if sel.any() else 0.0
    avg = 100.0 * float((pred == labels).double().mean())
    worst = min(cells.values())
    return {"avg": avg, "worst": worst, "gap": avg - worst, "cells": cells, "n": int(len(labels))}


def attribute_marginal(log_pz: torch.Tensor, z_names: list[str], factor_index: int) -> tuple[list[str], torch.Tensor]:
    """P(z|x) over composite values summed onto one factor's values: (values, [N, V])."""
    values = list(dict.fromkeys(z.split("+")[factor_index] for z in z_names))
    pz = log_pz.exp()
    out = torch.stack([pz[:, [i for i, z in enumerate(z_names) if z.split("+")[factor_index] == v]].sum(1)
                       for v in values], dim=1)
    return values, out

"""LfF, Learning from Failure (Nam et al., 2020).

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/lff.py``, ``model/criterion.py``,
``utils.py::EMAGPU``; after alinlab/LfF):

- a second network of the same architecture (the "biased" / bias-discover net), its own SGD with
  the run's lr, momentum and weight decay, trained on the same batches as the classifier with the
  generalised CE of ``GeneralizedCECriterion(q=0.7)``: ``CE(logits, y) * q * p_y**q`` with
  ``p_y**q`` detached (a gradient q·p_y^(q-1)·∇p_y: q times the textbook GCE's);
- per batch, the per-sample CE of both networks (detached) updates an EMA per training sample
  (alpha 0.7): ``ema[i] = alpha * ema[i] + (1 - alpha * updated[i]) * loss`` (the first update
  stores the loss itself); the class-wise maximum is a **running maximum** over all EMA values
  written so far (``max_param_per_class``; it never decreases), updated for the classes of the
  batch;
- the batch's EMAs are divided by their class's maximum, and the classifier's per-sample CE is
  weighted by ``L_b / (L_b + L_d + 1e-8)`` (no gradient through the weight);
- loss = mean(weighted CE) + mean(GCE), one backward, both optimizers step.

Here: identical, with the biased net ``ctx.new_model()`` listed in ``modules()`` (the loop's one
optimizer then updates it with the same settings, which for SGD is the same as a second SGD) and
the two EMAs (values, updated flags, class maxima) in the objective's state for resume. Losses
are computed in fp32 under the loop's bf16 autocast (the official uses fp16 AMP). Deviation: with
gradient accumulation (micro-batches) the EMAs are updated per micro-batch, which changes nothing
per sample (no index repeats within an epoch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vlmbias.lle.methods.base import Context, Setup, per_sample_ce
from vlmbias.train.objectives import Objective


def gce_loss(logits: torch.Tensor, targets: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """The official ``GeneralizedCECriterion`` (reduction none): CE · q · p_y^q, p_y^q detached."""
    logits = logits.float()
    p = torch.softmax(logits, dim=1)
    yg = torch.gather(p, 1, targets.unsqueeze(1)).squeeze(1)
    return F.cross_entropy(logits, targets, reduction="none") * (yg.detach() ** q) * q


class SampleLossEMA:
    """The official ``EMAGPU``: a per-sample loss EMA and a running class-wise maximum."""

    def __init__(self, labels: torch.Tensor, alpha: float, num_classes: int | None = None):
        self.label = torch.as_tensor(labels, dtype=torch.long)
        self.alpha = float(alpha)
        self.num_class = int(num_classes) if num_classes else int(self.label.max()) + 1
        self.parameter = torch.zeros(len(self.label))
        self.updated = torch.zeros(len(self.label))
        self.max_param_per_class = torch.zeros(self.num_class)

    def _to(self, device: torch.device) -> None:
        if self.parameter.device != device:
            self.label, self.parameter, self.updated, self.max_param_per_class = (
                t.to(device) for t in (self.label, self.parameter, self.updated, self.max_param_per_class))

    def update(self, data: torch.Tensor, index: torch.Tensor) -> None:
        self._to(data.device)
        index = index.to(data.device)
        self.parameter[index] = (self.alpha * self.parameter[index]
                                 + (1 - self.alpha * self.updated[index]) * data.float())
        self.updated[index] = 1
        batch_size = len(index)
        buffer = torch.zeros(batch_size, self.num_class, device=data.device)
        buffer[torch.arange(batch_size, device=data.device), self.label[index]] = self.parameter[index]
        cur_max = buffer.max(dim=0).values
        global_max = torch.maximum(cur_max, self.max_param_per_class)
        label_set_indices = self.label[index].unique()
        self.max_param_per_class[label_set_indices] = global_max[label_set_indices]

    def max_loss(self, label: torch.Tensor) -> torch.Tensor:
        return self.max_param_per_class[label.to(self.max_param_per_class.device)]

    def state_dict(self) -> dict:
        return {"parameter": self.parameter.cpu().clone(), "updated": self.updated.cpu().clone(),
                "max_param_per_class": self.max_param_per_class.cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        device = self.parameter.device
        self.parameter = torch.as_tensor(state["parameter"]).float().clone().to(device)
        self.updated = torch.as_tensor(state["updated"]).float().clone().to(device)
        self.max_param_per_class = torch.as_tensor(state["max_param_per_class"]).float().clone().to(device)


class LfFObjective(Objective):
    def __init__(self, biased: torch.nn.Module, labels: torch.Tensor, num_classes: int,
                 q: float = 0.7, ema_alpha: float = 0.7):
        self.biased = biased
        self.q = float(q)
        self.ema_b = SampleLossEMA(labels, ema_alpha, num_classes)
        self.ema_d = SampleLossEMA(labels, ema_alpha, num_classes)

    def weights(self, idx: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """L_b / (L_b + L_d + 1e-8) of the samples ``idx`` from the EMAs, class-max normalised."""
        loss_b = self.ema_b.parameter[idx].clone() / self.ema_b.max_loss(label)
        loss_d = self.ema_d.parameter[idx].clone() / self.ema_d.max_loss(label)
        return loss_b / (loss_b + loss_d + 1e-8)

    def loss(self, model, x, target, idx):
        spurious_logits = self.biased(x)
        target_logits = model(x)
        ce = per_sample_ce(target_logits, target)
        gce = gce_loss(spurious_logits, target, self.q).mean()
        idx = idx.to(ce.device)
        self.ema_b.update(per_sample_ce(spurious_logits, target).detach(), idx)
        self.ema_d.update(ce.detach(), idx)
        w = self.weights(idx, target).detach()
        return (ce * w).mean() + gce

    def modules(self):
        return [self.biased]

    def state_dict(self):
        return {"ema_b": self.ema_b.state_dict(), "ema_d": self.ema_d.state_dict()}

    def load_state_dict(self, state):
        if state:
            self.ema_b.load_state_dict(state["ema_b"])
            self.ema_d.load_state_dict(state["ema_d"])


def setup(ctx: Context) -> Setup:
    model = ctx.new_model()           # first, as the official (and the same init as ERM's)
    objective = LfFObjective(ctx.new_model(), ctx.labels, ctx.num_classes,
                             q=float(ctx.params.get("q", 0.7)),
                             ema_alpha=float(ctx.params.get("ema_alpha", 0.7)))
    return Setup(model=model, objective=objective)

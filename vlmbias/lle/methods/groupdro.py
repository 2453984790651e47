"""GroupDRO (Sagawa et al., 2020) with shortcut group labels: the oracle of t14.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/groupdro.py``, ``dataset/urbancars.py``):

- groups = ``obj * n_shortcut + shortcut`` with the shortcut ``bg`` (2), ``co_occur_obj`` (2) or
  ``both`` (``bg * 2 + co_occur_obj``, 4); ``num_group = 2 * n_shortcut`` whether or not a group
  occurs;
- a ``WeightedRandomSampler(len / group_count[g], len(train), replacement=True)``: every group
  equally likely per draw;
- per batch: ``group_loss[g]`` = mean CE of the batch's samples of group g, **0 for a group absent
  from the batch** (its denominator is set to 1); the adversarial weights are updated first,
  ``q <- q * exp(step_size * group_loss)``, ``q <- q / q.sum()`` (over all groups, absent ones
  included, whose factor is exp(0) = 1), and the loss is ``group_loss @ q`` (a sum over all
  groups, not a mean over the groups present); step size 0.01; q starts uniform and is saved
  with the checkpoint.

Here: the same, with the groups from ``ctx.factors`` (``params["groups"]``: ``both`` = the
``group`` column, ``bg`` = 2 label + background, ``coobj`` (or ``co_occur_obj``) = 2 label +
co-object), the sampler as ``sample_weights`` (the loop draws with replacement in proportion) and
q in the objective's state. Deviation: when the recipe splits a batch into micro-batches
(gradient accumulation), q is updated once per micro-batch with that micro-batch's group losses
(the official has no accumulation). :class:`GroupDROLoss` is shared with EIIL.
"""

from __future__ import annotations

import numpy as np
import torch

from vlmbias.lle.methods.base import Context, Setup, per_sample_ce
from vlmbias.train.objectives import Objective


class GroupDROLoss:
    """The official GroupDRO loss over ``num_groups`` groups (module docstring): call it with the
    per-sample losses of a batch and their groups; it updates q and returns ``group_loss @ q``."""

    def __init__(self, num_groups: int, step_size: float):
        self.num_groups = int(num_groups)
        self.step_size = float(step_size)
        self.adv_probs = torch.ones(self.num_groups) / self.num_groups

    def group_losses(self, losses: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=losses.device.type, enabled=False):   # fp32 matmuls
            group_range = torch.arange(self.num_groups, device=losses.device).unsqueeze(1)
            group_map = (groups.to(losses.device) == group_range).float()
            group_count = group_map.sum(1)
            group_denom = group_count + (group_count == 0).float()  # avoid nans
            return (group_map @ losses.flatten().float()) / group_denom

    def __call__(self, losses: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        group_loss = self.group_losses(losses, groups)
        with torch.no_grad():
            q = self.adv_probs.to(group_loss.device) * torch.exp(self.step_size * group_loss.detach())
            self.adv_probs = q / q.sum()
        with torch.autocast(device_type=losses.device.type, enabled=False):
            return group_loss @ self.adv_probs

    def state_dict(self) -> dict:
        return {"adv_probs": self.adv_probs.detach().cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.adv_probs = torch.as_tensor(state["adv_probs"]).float().clone()


def balanced_weights(groups: torch.Tensor) -> torch.Tensor:
    """The official ``get_sampling_weights``: ``len / count[group]`` per sample, so that every group
    (present in the data) is equally likely per draw."""
    groups = torch.as_tensor(groups, dtype=torch.long)
    counts = torch.bincount(groups).double()
    return (len(groups) / counts[groups]).double()


def group_labels(factors, which: str) -> tuple[torch.Tensor, int]:
    """(group of every training sample, number of groups) for ``which`` in both / bg / coobj."""
    label = np.asarray(factors["label"], dtype=np.int64)
    n_classes = int(label.max()) + 1
    if which == "both":
        g = np.asarray(factors["group"], dtype=np.int64)
        expected = 4 * label + 2 * np.asarray(factors["background"]) + np.asarray(factors["coobj"])
        if not np.array_equal(g, expected):
            raise ValueError("factors['group'] is not 4 label + 2 background + coobj")
        n = 4 * n_classes
    elif which == "bg":
        g, n = 2 * label + np.asarray(factors["background"], dtype=np.int64), 2 * n_classes
    elif which in ("coobj", "co_occur_obj"):
        g, n = 2 * label + np.asarray(factors["coobj"], dtype=np.int64), 2 * n_classes
    else:
        raise ValueError(f"groupdro: groups must be both, bg or coobj, got {which!r}")
    return torch.tensor(g, dtype=torch.long), n  # a copy: g may be a read-only view of a pandas column


class GroupDROObjective(Objective):
    """Plain CE per sample, GroupDRO over fixed per-sample groups, group-balanced sampling."""

    def __init__(self, groups: torch.Tensor, num_groups: int, step_size: float, info: dict | None = None):
        self.num_groups = int(num_groups)
        self.dro = GroupDROLoss(num_groups, step_size)
        self.info = info if info is not None else {}
        self.set_groups(groups)

    def set_groups(self, groups: torch.Tensor) -> None:
        """Use these groups (and record their sizes in ``info``, which is the Setup's)."""
        self.groups = torch.as_tensor(groups, dtype=torch.long).clone()
        self.info["group_sizes"] = torch.bincount(self.groups, minlength=self.num_groups).tolist()

    def loss(self, model, x, target, idx):
        losses = per_sample_ce(model(x), target)
        return self.dro(losses, self.groups[idx.cpu()])

    def sample_weights(self, epoch):
        return balanced_weights(self.groups)

    def state_dict(self):
        return {**self.dro.state_dict(), "groups": self.groups.clone()}

    def load_state_dict(self, state):
        self.dro.load_state_dict(state)
        if "groups" in state:
            self.set_groups(state["groups"])


def setup(ctx: Context) -> Setup:
    which = str(ctx.params.get("groups", "both"))
    groups, n_groups = group_labels(ctx.factors, which)
    info = {"groups": which}
    objective = GroupDROObjective(groups, n_groups, float(ctx.params.get("step_size", 0.01)), info)
    ctx.log(f"groupdro ({which}): {n_groups} groups, sizes {info['group_sizes']}")
    return Setup(model=ctx.new_model(), objective=objective, info=info)

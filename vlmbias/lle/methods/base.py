"""What a debiasing method is in this project: a plug-in of the one training loop.

A method is a module of ``vlmbias.lle.methods`` with a function ``setup(ctx: Context) -> Setup``
and is listed, with its defaults, in ``vlmbias/lle/methods.yaml`` (the one method registry).
``setup`` receives everything a run has (the training data and its per-sample factors, the
recipe, the method's hyper-parameters, a fresh-model factory, a way to run a preliminary stage
through the loop) and returns the model to train and evaluate, the objective the loop minimises
(``vlmbias.train.objectives``: its loss, sample weights, extra modules, state) and, when the
method trains on other images than the plain training set, that dataset.

The model returned is what is evaluated every epoch: its eval-mode ``forward(x)`` gives the
method's class logits ``[B, num_classes]`` (LLE: the shift-weighted sum of its heads' logits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from vlmbias.train.loop import TrainState
from vlmbias.train.objectives import Objective


@dataclass
class Context:
    """One run's inputs, as a method sees them.

    ``train_ds`` yields ``(x, y)`` with the recipe's train transform (a normalised tensor);
    ``factors`` holds one row per training sample, in dataset order, with integer columns
    ``label``, ``background``, ``coobj`` and ``group`` (= 4 label + 2 background + coobj; the
    oracle GroupDRO's groups; methods without shortcut labels must not read them).
    ``new_model()`` builds a fresh classifier (a timm model: ``forward_features``,
    ``forward_head(f, pre_logits=True)``, ``num_features``, ``get_classifier()``), seeded by the
    run. ``fit_stage(name, model, dataset, objective, samples_seen)`` trains a preliminary stage
    (JTT's and EIIL's reference ERM) through the one loop, with its own resumable checkpoint,
    and returns its TrainState. ``predict(model, dataset)`` gives the eval-mode logits
    ``[N, num_classes]`` of every sample of a dataset, in order. ``eval_train_ds`` is the
    training set with the eval transform (no augmentation: JTT's error set, EIIL's losses)."""

    train_ds: Dataset
    eval_train_ds: Dataset
    factors: Any                                    # pandas DataFrame
    num_classes: int
    recipe: dict
    params: dict
    seed: int
    device: torch.device
    new_model: Callable[[], nn.Module]
    fit_stage: Callable[..., TrainState]
    predict: Callable[[nn.Module, Dataset], torch.Tensor]
    log: Callable[[str], None] = print
    mean: tuple = (0.485, 0.456, 0.406)            # the recipe's normalisation (CF+F Aug's fill)
    std: tuple = (0.229, 0.224, 0.225)

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor(np.asarray(self.factors["label"]), dtype=torch.long)


@dataclass
class Setup:
    model: nn.Module
    objective: Objective
    train_ds: Dataset | None = None      # None: ctx.train_ds
    epoch_samples: int | None = None     # samples drawn per epoch (None: len(train_ds))
    info: dict = field(default_factory=dict)   # what the method found (JTT's error-set size, ...), kept in metrics


def per_sample_ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits.float(), y, reduction="none")

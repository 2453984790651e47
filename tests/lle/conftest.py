"""A tiny UrbanCars-shaped run context for the method tests: 64 random 16-px images whose label,
background and co-object factors follow the 95% / 95% layout (approximately), a 2-class toy
ResNet, stages through the one loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from torch.utils.data import Dataset

from vlmbias.lle.methods.base import Context
from vlmbias.train.loop import fit

SIZE = 16
RECIPE = {"input_size": SIZE, "batch_size": 16, "samples_seen": 64, "optimizer": "momentum", "lr": 1e-3,
          "momentum": 0.9, "weight_decay": 1e-4, "sched": "constant", "label_smoothing": 0.0,
          "mixup": 0.0, "cutmix": 0.0}


class TensorImages(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def tiny_model(num_classes: int = 2) -> torch.nn.Module:
    return timm.create_model("resnet50", num_classes=num_classes, channels=[4, 8, 8, 8], stem_width=4)


def make_factors(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = np.arange(n) % 2
    bg = np.where(rng.random(n) < 0.95, label, 1 - label)
    co = np.where(rng.random(n) < 0.95, label, 1 - label)
    return pd.DataFrame({"label": label, "background": bg, "coobj": co, "group": 4 * label + 2 * bg + co})


@pytest.fixture
def make_ctx(tmp_path):
    def _make(params: dict | None = None, n: int = 64, seed: int = 0, recipe: dict | None = None) -> Context:
        torch.manual_seed(seed)
        factors = make_factors(n, seed)
        x = torch.randn(n, 3, SIZE, SIZE)
        ds = TensorImages(x, torch.tensor(factors["label"].to_numpy()))
        rec = dict(RECIPE, **(recipe or {}))
        device = torch.device("cpu")

        def fit_stage(name, model, dataset, objective=None, epochs: float = 1.0):
            r = dict(rec, samples_seen=int(round(epochs * len(dataset))))
            return fit(model, dataset, 2, r, seed, str(tmp_path / f"{name}.pt"), name, device,
                       progress=False, log=lambda m: None, objective=objective)

        @torch.no_grad()
        def predict(model, dataset):
            model.eval()
            return torch.cat([model(dataset[i][0][None]) for i in range(len(dataset))])

        return Context(train_ds=ds, eval_train_ds=ds, factors=factors, num_classes=2, recipe=rec,
                       params=dict(params or {}), seed=seed, device=device, new_model=tiny_model,
                       fit_stage=fit_stage, predict=predict, log=lambda m: None)

    return _make

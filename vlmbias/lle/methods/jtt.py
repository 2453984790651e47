"""JTT, Just Train Twice (Liu et al., 2021).

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/jtt.py``, defaults of
``scripts/train_urbancars/jtt.sh`` and ``launcher.py``):

1. identification: the classifier is trained with plain (mean) cross-entropy, a fresh SGD with the
   run's settings, for ``bias_id_epoch`` epochs (T = 1; the table also has T = 2) of the shuffled
   training set;
2. error set: that model, in eval mode, predicts the training set in order; the error set is the
   samples it misclassifies;
3. the training set becomes ``ConcatDataset([train, Subset(train, error_indices * up_weight)])``
   (up_weight = 100): an error sample appears **1 + up_weight** times per epoch, every other once;
   the classifier and optimizer are re-initialised and trained with plain CE for the full
   schedule on that set (shuffled).

Here: stage 1 is a fresh ``ctx.new_model()`` trained through the one loop by
``ctx.fit_stage("jtt_identify", ..., epochs=E)`` with an explicit plain-CE objective (the loop's
default objective would add the recipe's label smoothing / Mixup); the error set is
``ctx.predict(model, ctx.eval_train_ds).argmax(1) != labels``; the final model is a new fresh
``ctx.new_model()`` trained with plain CE and ``sample_weights`` = 1 + up_weight on the error set,
1 elsewhere, drawn with replacement. Deviations:

- the upsampled dataset is replaced by weighted sampling with replacement: each draw has exactly
  the official epoch's composition in expectation (an error sample is 1 + up_weight times as
  likely as another), but an epoch draws |train| samples, not |train| + up_weight·|errors|: the
  run's samples-seen budget is the same for every method, so the epochs are shorter (more
  evaluation / model-selection points) and a sample may repeat within one;
- the error set is inferred on the training images with the eval transform (no random flip); the
  official predicts its training set with the training transform (random horizontal flip);
- stage 1 uses the recipe's optimizer and learning-rate schedule (the official: SGD at the run's
  constant lr, as the UrbanCars recipe).

``info``: the error-set size and rate, per class, and the stage's epochs. The error set is kept
in the objective's state, so a resumed run keeps the one it started with.
"""

from __future__ import annotations

import torch
from torch import nn

from vlmbias.lle.methods.base import Context, Setup, per_sample_ce
from vlmbias.train.objectives import Objective


class PlainCE(Objective):
    """Plain mean cross-entropy (no label smoothing, no Mixup): the official ERM criterion,
    optionally with fixed per-sample sampling weights."""

    def __init__(self, weights: torch.Tensor | None = None):
        self.weights = weights

    def loss(self, model, x, target, idx):
        return per_sample_ce(model(x), target).mean()

    def sample_weights(self, epoch):
        return self.weights


def train_reference(ctx: Context, name: str, epochs: float) -> nn.Module:
    """A fresh model trained with plain CE for ``epochs`` epochs of the training set through the
    one loop (JTT's identification model, EIIL's reference model)."""
    model = ctx.new_model()
    ctx.fit_stage(name, model, ctx.train_ds, PlainCE(), epochs=epochs)
    return model


class JTTObjective(PlainCE):
    """Plain CE with the error set drawn 1 + up_weight times as often."""

    def __init__(self, error: torch.Tensor, up_weight: float, labels: torch.Tensor, info: dict | None = None):
        super().__init__()
        self.up_weight = float(up_weight)
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.info = info if info is not None else {}
        self.set_error(error)

    def set_error(self, error: torch.Tensor) -> None:
        """Use this error set (and say so in ``info``, which is the Setup's)."""
        self.error = torch.as_tensor(error, dtype=torch.bool).clone()
        self.weights = 1.0 + self.up_weight * self.error.double()
        n = int(self.error.sum())
        self.info.update({"error_set": n, "error_rate": n / max(len(self.error), 1),
                          "error_set_per_class": [int(self.error[self.labels == c].sum())
                                                  for c in range(int(self.labels.max()) + 1)],
                          "up_weight": self.up_weight})

    def state_dict(self):
        return {"error": self.error.clone()}

    def load_state_dict(self, state):
        if state:
            self.set_error(state["error"])


def setup(ctx: Context) -> Setup:
    epochs = float(ctx.params.get("bias_epochs", 1))
    up = float(ctx.params.get("up_weight", 100))
    ref = train_reference(ctx, "jtt_identify", epochs)
    pred = ctx.predict(ref, ctx.eval_train_ds).argmax(1).cpu()
    del ref
    info = {"bias_epochs": epochs}
    objective = JTTObjective(pred != ctx.labels, up, ctx.labels, info)
    ctx.log(f"jtt: error set of {info['error_set']} / {len(pred)} training samples after {epochs:g} "
            f"epochs (per class {info['error_set_per_class']}), drawn {1 + up:g} times as often")
    return Setup(model=ctx.new_model(), objective=objective, info=info)

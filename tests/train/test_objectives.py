"""The seam of the one training loop (vlmbias/train/objectives.py): sample weights draw the
epoch, an objective's own modules train with the model, its state survives an interruption."""

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from vlmbias.train.loop import fit
from vlmbias.train.objectives import Objective

CPU = torch.device("cpu")
RECIPE = {"batch_size": 8, "samples_seen": 96, "warmup_samples": 8, "optimizer": "sgd", "lr": 0.1,
          "weight_decay": 0.0, "label_smoothing": 0.0, "augment": {"mixup": 0.0, "cutmix": 0.0}}
pytestmark = pytest.mark.usefixtures("one_thread")


def data(n=32):
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(n, 4, generator=g), torch.arange(n) % 2)


class Reweighted(Objective):
    """Upweights the samples of class 0 (all weight there with ``only_zero``), adds a trained
    per-class offset of its own to the logits, counts the samples it saw (its state), and can crash."""

    def __init__(self, labels, only_zero=False, crash_at_step=None):
        self.labels, self.only_zero, self.crash_at_step = labels, only_zero, crash_at_step
        self.bias = nn.Linear(1, 2)
        self.seen = torch.zeros(len(labels), dtype=torch.long)
        self.steps = 0

    def sample_weights(self, epoch):
        return (self.labels == 0).double() if self.only_zero else None

    def loss(self, model, x, target, idx):
        self.steps += 1
        if self.steps == self.crash_at_step:
            raise KeyboardInterrupt("killed")
        self.seen += torch.bincount(idx, minlength=len(self.seen))
        logits = model(x) + self.bias(torch.ones(len(x), 1))
        return nn.functional.cross_entropy(logits, target)

    def modules(self):
        return [self.bias]

    def state_dict(self):
        return {"seen": self.seen.clone()}

    def load_state_dict(self, state):
        self.seen = state["seen"].clone()


def train(tmp_path, objective, name="run"):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    fit(model, data(), 2, RECIPE, seed=0, checkpoint_path=str(tmp_path / f"{name}.pt"), run_hash=name,
        device=CPU, progress=False, log=lambda *_: None, objective=objective)
    return model


def test_sample_weights_draw_the_epoch(tmp_path):
    labels = data().tensors[1]
    obj = Reweighted(labels, only_zero=True)
    train(tmp_path, obj)
    assert obj.seen[labels == 1].sum() == 0 and obj.seen[labels == 0].sum() == 96
    uniform = Reweighted(labels)
    train(tmp_path, uniform, "uniform")
    assert (uniform.seen == 3).all()  # 96 samples = 3 epochs of 32, each sample once per epoch


def test_objective_modules_train_and_state_survives_an_interruption(tmp_path, checkpoint_every_epoch):
    labels = data().tensors[1]
    straight = Reweighted(labels)
    before = straight.bias.weight.detach().clone()
    model = train(tmp_path, straight, "straight")
    assert not torch.equal(straight.bias.weight, before)  # the objective's module trained too
    crashed = Reweighted(labels, crash_at_step=7)  # in the second epoch (4 steps per epoch)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, crashed, "resumed")
    resumed = Reweighted(labels)
    again = train(tmp_path, resumed, "resumed")  # resumes from the end of epoch 1
    assert torch.equal(again.weight, model.weight) and torch.equal(resumed.bias.weight, straight.bias.weight)
    assert torch.equal(resumed.seen, straight.seen)  # restored, then counted on


def test_wrong_number_of_weights_is_named(tmp_path):
    class Short(Objective):
        def sample_weights(self, epoch):
            return torch.ones(3)

        def loss(self, model, x, target, idx):
            return model(x).sum()

    with pytest.raises(ValueError, match="3 weights for 32 training samples"):
        train(tmp_path, Short())

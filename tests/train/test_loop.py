"""The training loop: a killed run resumes from its checkpoint and ends with the same metrics
as an uninterrupted one; metrics.json holds what the tables need."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from vlmbias.dsc import run as dsc

STABLE = lambda m: {k: v for k, v in m.items() if k != "run_info"}  # noqa: E731


# one intra-op thread, as the subprocess below: float reductions then match bit for bit
pytestmark = pytest.mark.usefixtures("one_thread")


def run_in_process(spec, dirs, out):
    os.makedirs(out, exist_ok=True)
    return dsc.run(spec, dirs, os.path.join(out, "metrics.json"), os.path.join(out, "model.pt"),
                   progress=False, log=lambda *_: None)


def test_metrics_contents(tiny_samples, tiny_spec, tmp_path):
    dirs = tiny_samples
    m = run_in_process(tiny_spec, dirs, str(tmp_path / "run"))
    assert set(m) >= {"val_acc", "train_acc", "confusion_matrix", "loss_curve", "samples_seen",
                      "run_info", "seed", "config", "epoch_loss"}
    assert m["samples_seen"] == 1800 and m["steps"] == 60 and m["epochs"] == 10  # 180 images, batch 30
    assert sum(map(sum, m["confusion_matrix"])) == m["n_val"] == 72
    assert m["train_acc_images"] == 180
    assert m["run_info"]["device"] == "cpu"
    assert not os.path.exists(tmp_path / "run" / "checkpoint.pt")  # removed once complete
    with open(tmp_path / "run" / "metrics.json") as f:
        assert json.load(f)["val_acc"] == m["val_acc"]


def test_killed_run_resumes_to_identical_metrics(tiny_samples, tiny_spec, tmp_path, checkpoint_every_epoch):
    dirs = tiny_samples
    reference = run_in_process(tiny_spec, dirs, str(tmp_path / "uninterrupted"))

    out = tmp_path / "killed"
    out.mkdir()
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"spec": tiny_spec, "dirs": dirs}))
    code = ("import json,sys,torch; from vlmbias.dsc import run as dsc; a=json.load(open(sys.argv[1])); "
            "torch.set_num_threads(1); "
            "dsc.run(a['spec'], a['dirs'], sys.argv[2]+'/metrics.json', sys.argv[2]+'/model.pt', "
            "progress=False, log=lambda *_: None)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(spec_file), str(out)])
    ckpt = out / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "no checkpoint written before the kill"
    assert not (out / "metrics.json").exists(), "the run finished before it could be killed"

    resumed = run_in_process(tiny_spec, dirs, str(out))
    assert resumed["run_info"]["resumed_from_epoch"] >= 1
    assert STABLE(resumed) == STABLE(reference)


def test_checkpoint_of_another_config_is_ignored(tiny_samples, tiny_spec, tmp_path):
    import torch

    dirs = tiny_samples
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"version": 1, "run_hash": "someone-else", "model": {}}, out / "checkpoint.pt")
    logs = []
    dsc.run(tiny_spec, dirs, str(out / "metrics.json"), str(out / "model.pt"), progress=False,
            log=logs.append)
    assert any("different configuration" in line for line in logs)


class _Flips:
    """Random images, flipped at random when loaded: the loading process's RNG matters."""

    def __init__(self, n=96):
        import torch

        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        import torch

        x = self.x[i]
        return (x.flip(-1) if torch.rand(()) < 0.5 else x), self.y[i]


def _fit_small(ckpt, num_workers, on_epoch_end=None, **recipe_overrides):
    import torch

    from vlmbias.train.loop import fit

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 3))
    recipe = dict(input_size=8, batch_size=16, micro_batch_size=8, samples_seen=96 * 4, lr=1e-2,
                  weight_decay=0.0, label_smoothing=0.0, **recipe_overrides)
    state = fit(model, _Flips(), 3, recipe, 1, str(ckpt), "h", torch.device("cpu"), num_workers=num_workers,
                progress=False, log=lambda *_: None, on_epoch_end=on_epoch_end)
    return model.state_dict(), state


def test_checkpoints_at_most_once_per_interval(tmp_path, monkeypatch):
    """A checkpoint at an epoch's end once the interval has passed: at every epoch with 0 (each
    epoch's file is the epoch's state), none in a run shorter than the interval, and a bad value
    named."""
    from vlmbias.train import loop

    seen = []

    def record(epoch, model):
        seen.append(loop.torch.load(tmp_path / "a.pt", weights_only=False)["state"]["epoch"]
                    if (tmp_path / "a.pt").exists() else None)
        return {}

    monkeypatch.setenv(loop.CHECKPOINT_EVERY_ENV, "0")
    _fit_small(tmp_path / "a.pt", 0, record)
    assert seen == [None, 1, 2, 3]     # on_epoch_end runs before its epoch's checkpoint
    monkeypatch.setenv(loop.CHECKPOINT_EVERY_ENV, "3600")
    weights, state = _fit_small(tmp_path / "b.pt", 0)
    assert state.epoch == 4 and not (tmp_path / "b.pt").exists()
    monkeypatch.delenv(loop.CHECKPOINT_EVERY_ENV)
    assert loop.checkpoint_every_s() == loop.CHECKPOINT_EVERY_S
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(loop.CHECKPOINT_EVERY_ENV, bad)
        with pytest.raises(ValueError, match="VLMBIAS_CHECKPOINT_EVERY_S"):
            loop.checkpoint_every_s()


def test_persistent_workers_reseed_per_epoch_so_a_resumed_run_is_exact(tmp_path, checkpoint_every_epoch):
    """One DataLoader whose 2 workers live through the run: each reseeds itself from (epoch,
    rank, worker) on its first sample of an epoch, so resuming at epoch 2 (fresh workers)
    draws the flips the uninterrupted run drew; the loss, read back once per bin, too."""
    import shutil

    import torch

    def keep_epoch_1_checkpoint(epoch, model):
        if epoch == 2:  # the checkpoint on disk is epoch 1's
            shutil.copy(tmp_path / "a.pt", tmp_path / "b.pt")
        return {}

    weights, state = _fit_small(tmp_path / "a.pt", 2, keep_epoch_1_checkpoint)
    resumed_weights, resumed = _fit_small(tmp_path / "b.pt", 2)
    assert resumed.resumed_from_epoch == 1 and state.epoch == resumed.epoch == 4
    assert resumed.loss_curve == state.loss_curve and resumed.epoch_loss == state.epoch_loss
    assert all(torch.equal(weights[k], resumed_weights[k]) for k in weights)
    in_process, _ = _fit_small(tmp_path / "c.pt", 0)  # other draws: workers seed themselves
    assert not all(torch.equal(weights[k], in_process[k]) for k in weights)


def test_loss_is_read_back_once_per_bin_and_epoch_not_per_step(tmp_path, monkeypatch):
    """No host sync per micro-step (on CUDA a read-back waits for the GPU): the training loop
    turns a tensor into a Python number only to close a loss-curve bin or an epoch."""
    import torch

    reads = []
    for name in ("__float__", "item"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name,
                            lambda self, _o=original, _n=name: reads.append((_n, self.dtype)) or _o(self))
    # SGD: no optimizer step counters read back (torch's Adam reads its CPU step tensors)
    _, state = _fit_small(tmp_path / "a.pt", 0, optimizer="sgd", momentum=0.9)
    monkeypatch.undo()
    assert state.step == 24 and len(state.loss_curve) == 24  # 4 epochs x 12 micro-steps; bins of one step
    floats = [r for r in reads if r[1].is_floating_point]  # the rest: the loader's int64 base seed per epoch
    assert len(floats) == len(state.loss_curve) + len(state.epoch_loss) == 28  # not one per micro-step (48)


def test_map_batches_and_predict_keep_order_heads_and_eval_mode():
    """map_batches concatenates each part of outputs(model, x) over batches in dataset order,
    the model in eval mode; predict gives [H, N] argmaxes (or [H, N, K] logits) for one- and
    multi-head models, across a ragged last batch."""
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    from vlmbias.train.loop import map_batches, predict

    torch.manual_seed(0)
    x, y = torch.randn(7, 3, 2, 2), torch.arange(7)
    ds, cpu = TensorDataset(x, y), torch.device("cpu")

    class Heads(nn.Module):   # [H=2, B, K=4], dropout so train mode would be visible
        def __init__(self):
            super().__init__()
            self.lin, self.drop = nn.Linear(12, 8), nn.Dropout(0.9)

        def forward(self, x):
            return self.drop(self.lin(x.flatten(1))).view(len(x), 2, 4).movedim(1, 0)

    m = Heads().train()
    ref = m.eval()(x)                                   # [2, 7, 4]
    (first, total), labels = map_batches(m.train(), ds, cpu, 3, lambda mm, b: (mm(b)[0], mm(b).sum((0, 2))),
                                         progress=False)
    assert not m.training and torch.equal(labels, y)
    assert torch.allclose(first, ref[0]) and torch.allclose(total, ref.sum((0, 2)))
    preds, labels = predict(m, ds, cpu, 3, progress=False)
    assert preds.shape == (2, 7) and torch.equal(preds, ref.argmax(-1)) and torch.equal(labels, y)
    logits, _ = predict(m, ds, cpu, 3, progress=False, logits=True)
    assert logits.shape == (2, 7, 4) and logits.is_contiguous() and torch.allclose(logits, ref)
    one, _ = predict(nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), ds, cpu, 4, progress=False, logits=True)
    assert one.shape == (1, 7, 5)
    with pytest.raises(ValueError, match="nothing to predict"):
        map_batches(m, TensorDataset(x[:0], y[:0]), cpu, 3, lambda mm, b: (mm(b),), progress=False)

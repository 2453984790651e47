"""One run on 2 processes (DistributedDataParallel, gloo on CPU) against 1 process at the same
global batch, and a 2-process run killed mid-way that resumes to the uninterrupted metrics.

Tolerance. The model is the toy ConvNeXt with timm's patchify stem (the toy configs' ``stem: maxpool``
has a BatchNorm): LayerNorm only, no dropout or drop-path; the
run has no random augmentation (the ``no_aug`` preset: resize + centre crop) and no Mixup, so
2 processes compute the same thing as 1 and differ only in float32 reduction order: the
gradient is the mean of two per-rank means of 15 samples instead of one mean of 30, ~1 ulp
(1e-7 relative) per step. Over these 60 AdamW steps the largest weight difference measured
was 2.8e-7 and the per-bin losses agreed to ~1e-7 relative: asserted below 1e-5 (weights,
absolute) and 1e-5 (losses, relative), 35x and 100x that, far below any real difference (a
different data order or BatchNorm statistics move weights by ~1e-2); the
predictions, whose top-2 logit margins are much larger, are the same, so the accuracies and
confusion matrices must be equal. With BatchNorm the ranks would normalise over their own 15
samples (different statistics: not a float-order effect), and with random augmentation in
the main process the ranks would draw other crops: neither is compared here.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from vlmbias.dsc import run as dsc
from vlmbias.dsc.spec import run_spec
from vlmbias.train import distributed as D
from vlmbias.train import models
from vlmbias.train.loop import _EpochOrder

pytestmark = pytest.mark.usefixtures("one_thread")
STABLE = lambda m: {k: v for k, v in m.items() if k != "run_info"}  # noqa: E731


def test_epoch_order_gives_each_rank_its_slice_of_every_global_micro_batch():
    order = list(range(100, 123))  # 23 indices, micro 6: 3 whole micro-batches, 5 left out
    slices = []
    for rank in range(3):
        o = _EpochOrder(6, rank, 3)
        o.set_epoch(order, 7)
        slices.append(list(o))
        assert len(o) == len(slices[-1]) == 6 and all(s == 7 for s, _ in slices[-1])
    for b in range(3):  # micro-batch b: rank r holds its 2 consecutive indices
        assert [i for r in range(3) for _, i in slices[r][2 * b:2 * b + 2]] == order[6 * b:6 * b + 6]
    one = _EpochOrder(6, 0, 1)
    one.set_epoch(order, 7)
    assert [i for _, i in one] == order[:18]
    with pytest.raises(ValueError, match="not divisible by the 4 processes"):
        _EpochOrder(6, 0, 4)


@pytest.fixture(scope="module")
def ddp_spec(toy_config):
    import copy

    cfg = copy.deepcopy(toy_config)
    cfg["sampling"]["n_train"] = 60
    cfg["train"].update(batch_size=30, samples_seen=1800, warmup_samples=150, input_size=32,
                        train_acc_samples=None, cache_images=True)
    spec = run_spec(cfg, ["yfcc", "cc", "datacomp"], "convnext_t", aug="no_aug")
    assert spec["model"].pop("stem") == "maxpool"  # -> timm's own stem: no BatchNorm anywhere
    return spec


def _launch(spec, dirs, out, nproc):
    os.makedirs(out, exist_ok=True)
    return D.launch(dsc.run, nproc, spec, dirs, os.path.join(out, "metrics.json"),
                    os.path.join(out, "model.pt"), progress=False, threads=1, log=lambda *_: None)


@pytest.fixture(scope="module")
def two_processes(tiny_samples, ddp_spec, tmp_path_factory):
    """The run on 2 processes, uninterrupted: (metrics, run directory)."""
    out = tmp_path_factory.mktemp("two")
    torch.set_num_threads(1)
    return _launch(ddp_spec, tiny_samples, str(out), 2), out


def test_two_processes_end_with_the_metrics_of_one(tiny_samples, ddp_spec, two_processes, tmp_path):
    one = _launch(ddp_spec, tiny_samples, str(tmp_path / "one"), 1)
    two, two_dir = two_processes
    assert two["run_info"]["processes"] == 2 and one["run_info"]["processes"] == 1
    assert two["steps"] == one["steps"] == 60 and two["samples_seen"] == one["samples_seen"]
    assert not any("BatchNorm" in type(m).__name__ for m in models.build_model(ddp_spec["model"], 3, 32).modules())
    w1 = torch.load(tmp_path / "one" / "model.pt")
    w2 = torch.load(two_dir / "model.pt")
    diff = max(float((w1[k].float() - w2[k].float()).abs().max()) for k in w1)
    assert 0 < diff < 1e-5, f"max |weight difference| {diff:.2e}"  # 0 would mean no second rank
    for (s1, l1), (s2, l2) in zip(one["loss_curve"], two["loss_curve"], strict=True):
        assert s1 == s2 and l2 == pytest.approx(l1, rel=1e-5)
    for k in ("val_acc", "train_acc", "confusion_matrix", "n_val", "epochs"):
        assert one[k] == two[k], k


def test_two_processes_killed_resume_to_the_uninterrupted_metrics(tiny_samples, ddp_spec, two_processes,
                                                                  tmp_path, checkpoint_every_epoch):
    reference = two_processes[0]

    out = tmp_path / "killed"
    out.mkdir()
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"spec": ddp_spec, "dirs": tiny_samples}))
    code = ("import json,sys; from vlmbias.dsc import run as dsc; from vlmbias.train import distributed as D; "
            "a=json.load(open(sys.argv[1])); "
            "D.launch(dsc.run, 2, a['spec'], a['dirs'], sys.argv[2]+'/metrics.json', sys.argv[2]+'/model.pt', "
            "progress=False, threads=1)")
    # its own session: the launcher and both ranks are killed together, as a job's are
    proc = subprocess.Popen([sys.executable, "-c", code, str(args), str(out)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = out / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists(), "no checkpoint written before the kill"
    assert not (out / "metrics.json").exists(), "the run finished before it could be killed"

    resumed = _launch(ddp_spec, tiny_samples, str(out), 2)
    assert resumed["run_info"]["resumed_from_epoch"] >= 1
    assert STABLE(resumed) == STABLE(reference)


def test_objectives_with_per_sample_state_are_refused_on_several_processes(monkeypatch, tmp_path):
    from vlmbias.lle.methods.groupdro import GroupDROObjective
    from vlmbias.lle.methods.lff import LfFObjective
    from vlmbias.train import loop
    from vlmbias.train.objectives import Classification, LossFunction, Objective

    assert Classification.distributed and LossFunction(lambda m, x, y: x.sum()).distributed
    assert not LossFunction(lambda m, x, y: x.sum(), distributed=False).distributed  # e.g. CLIP's loss
    assert not any(o.distributed for o in (Objective, LfFObjective, GroupDROObjective))

    class PerSample(Objective):  # e.g. LfF: per-sample loss EMAs indexed by dataset index
        def loss(self, model, x, target, idx):
            raise AssertionError("must be refused before training")

    monkeypatch.setattr(D, "rank_world", lambda: (1, 2))  # as rank 1 of 2, before any collective
    ds = torch.utils.data.TensorDataset(torch.zeros(8, 4), torch.zeros(8, dtype=torch.long))
    recipe = dict(input_size=4, batch_size=4, samples_seen=8, lr=0.1, weight_decay=0.0)
    with pytest.raises(ValueError, match="PerSample cannot train on 2 processes"):
        loop.fit(torch.nn.Linear(4, 2), ds, 2, recipe, 0, str(tmp_path / "c.pt"), "h", torch.device("cpu"),
                 progress=False, objective=PerSample())

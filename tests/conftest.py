"""Shared fixtures: the default config, a tiny toy world, sampled, for training tests; one thread.
The workflow-level fixtures (tiny config runs) are in tests/workflow/conftest.py."""

import copy
import os
import pathlib

import pytest
import yaml

from vlmbias.dsc.spec import run_spec
from vlmbias.shards.sampler import sample_dataset
from vlmbias.toyworld import generate_source

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Every Snakemake call of the tests, but the SLURM test's, finds tests/workflow/noslurm/scontrol first on
# PATH (see that file: the slurm executor plugin asks scontrol for its config whenever Snakemake
# starts, 10 s per call where slurm-client is installed and no controller runs).
NOSLURM = str(ROOT / "tests" / "workflow" / "noslurm")
if NOSLURM not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = NOSLURM + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def toy_config():
    with open(ROOT / "config" / "config.yaml") as f:
        return yaml.safe_load(f)


def sample_toy_sources(root, n_images: dict, n_train: int, n_val: int, image_size: int, max_side: int) -> dict:
    """Toy sources (name -> images) written as 2 raw shards each under ``root/raw`` and sampled
    under ``root/samples``; returns name -> sample directory."""
    dirs = {}
    for name, n in n_images.items():
        shards = [str(root / "raw" / name / f"{i:05d}.tar") for i in range(2)]
        os.makedirs(os.path.dirname(shards[0]), exist_ok=True)
        generate_source(name, n, shards, image_size=image_size, seed=0)
        dirs[name] = str(root / "samples" / name)
        sample_dataset(name, shards, dirs[name], n_train=n_train, n_val=n_val, seed=0,
                       max_side=max_side, max_bad_fraction=0.05, progress=False)
    return dirs


@pytest.fixture(scope="session")
def toy_sampler():
    """``sample_toy_sources``, for tests that build a toy world of their own."""
    return sample_toy_sources


@pytest.fixture(scope="session")
def tiny_samples(tmp_path_factory):
    """Three toy sources (yfcc, cc, datacomp), 90 images each, sampled 60 train / 24 val."""
    return sample_toy_sources(tmp_path_factory.mktemp("tiny_world"), dict.fromkeys(("yfcc", "cc", "datacomp"), 90),
                              n_train=60, n_val=24, image_size=40, max_side=40)


@pytest.fixture
def tiny_spec(toy_config):
    cfg = copy.deepcopy(toy_config)
    cfg["sampling"]["n_train"] = 60
    cfg["train"].update(batch_size=30, samples_seen=1800, warmup_samples=150, input_size=32,
                        train_acc_samples=None)
    return run_spec(cfg, ["yfcc", "cc", "datacomp"], "convnext_t")


@pytest.fixture
def checkpoint_every_epoch(monkeypatch):
    """fit checkpoints at every epoch's end (vlmbias.train.loop.checkpoint_every_s), in this
    process and the ones it starts: for tests that kill a run at a checkpoint or read one."""
    monkeypatch.setenv("VLMBIAS_CHECKPOINT_EVERY_S", "0")


@pytest.fixture
def one_thread():
    """torch on one intra-op thread for the test, restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

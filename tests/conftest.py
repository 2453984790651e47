"""Shared fixtures: a tiny toy world, sampled, for training tests."""

import copy
import os
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Every Snakemake call of the tests, but the SLURM test's, finds tests/noslurm/scontrol first on
# PATH (see that file: the slurm executor plugin asks scontrol for its config whenever Snakemake
# starts, 10 s per call where slurm-client is installed and no controller runs).
NOSLURM = str(ROOT / "tests" / "noslurm")
if NOSLURM not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = NOSLURM + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def toy_config():
    with open(ROOT / "config" / "config.yaml") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="session")
def tiny_samples(tmp_path_factory):
    """Three toy sources (yfcc, cc, datacomp), 90 images each, sampled 60 train / 24 val."""
    from vlmbias import sampling, toyworld

    root = tmp_path_factory.mktemp("tiny_world")
    dirs = {}
    for name in ("yfcc", "cc", "datacomp"):
        shards = [str(root / "raw" / name / f"{i:05d}.tar") for i in range(2)]
        os.makedirs(os.path.dirname(shards[0]), exist_ok=True)
        toyworld.generate_source(name, 90, shards, image_size=40, seed=0)
        out = root / "samples" / name
        sampling.sample_dataset(name, shards, str(out), n_train=60, n_val=24, seed=0,
                                max_side=40, max_bad_fraction=0.05, progress=False)
        dirs[name] = str(out)
    return dirs


@pytest.fixture
def tiny_spec(toy_config):
    from vlmbias import experiments

    cfg = copy.deepcopy(toy_config)
    cfg["sampling"]["n_train"] = 60
    cfg["train"].update(batch_size=30, samples_seen=1800, warmup_samples=150, input_size=32,
                        train_acc_samples=None)
    return experiments.run_spec(cfg, ["yfcc", "cc", "datacomp"], "convnext_t")


@pytest.fixture
def one_thread():
    """torch on one intra-op thread for the test, restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- workflow-level runs of the tiny config (tests/tinyflow.py), shared by test_workflow_runs.py
# and test_slurm.py: run A (local, two fake GPUs) and run B (local, plain) are made once per session.

@pytest.fixture(scope="session")
def tiny_config_file(tmp_path_factory):
    from tinyflow import write_tiny_config

    return write_tiny_config(tmp_path_factory.mktemp("tiny") / "tiny.yaml")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_config_file):
    """Run A: the tiny config, locally, as on a workstation with two (fake) GPUs: --resources
    gpu=2, so the two training jobs may run at once, each on a GPU slot of its own."""
    from tinyflow import check, run_snakemake

    work = tmp_path_factory.mktemp("tiny_a")
    env = {"VLMBIAS_GPU_COUNT": "2", "VLMBIAS_GPU_LOCK_DIR": str(work / "gpu-locks")}
    check(run_snakemake(["--cores", "2", "--resources", "gpu=2", "--configfile", tiny_config_file],
                        work, timeout=600, env=env))
    return work


@pytest.fixture(scope="session")
def tiny_run_b(tmp_path_factory, tiny_config_file):
    """Run B: the same config again, from scratch, in another directory."""
    from tinyflow import check, run_snakemake

    work = tmp_path_factory.mktemp("tiny_b")
    check(run_snakemake(["--cores", "2", "--configfile", tiny_config_file], work, timeout=600))
    return work

"""The DAG, built by Snakemake itself (dry runs): the paper protocol's jobs, GPU tags, and
config errors stopping the run before any job with a message naming the culprit."""

import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAPER_DATASETS = ["yfcc", "cc", "datacomp", "wit", "laion", "imagenet"]


def snakemake(*args, workdir, check=True):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--cores", "2", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check and p.returncode:
        raise AssertionError(f"snakemake failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def job_counts(output: str) -> dict[str, int]:
    table = output.split("Job stats:")[1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.M)}


def job_blocks(output: str, rule: str) -> list[str]:
    return re.findall(rf"^rule {rule}:\n(.*?)(?=^\[|^rule |\Z)", output, flags=re.S | re.M)


@pytest.fixture(scope="module")
def paper_with_placeholders(tmp_path_factory):
    """config/paper.yaml with every dataset pointed at placeholder shard files."""
    tmp = tmp_path_factory.mktemp("paper")
    datasets = {}
    for name in PAPER_DATASETS:
        d = tmp / "shards" / name
        d.mkdir(parents=True)
        for i in range(3):
            (d / f"{i:05d}.tar").touch()
        datasets[name] = {"shards": str(d / "{00000..00002}.tar")}
    override = tmp / "shards.yaml"
    override.write_text(yaml.safe_dump({"datasets": datasets}))
    return tmp, override


@pytest.mark.parametrize("target,n_train", [("t01_combinations", 23), ("t02_architectures", 5),
                                            ("f03_model_size", 9), ("f04_train_images", 6),
                                            ("t05_augmentation", 12), ("t06_corruptions", 9),
                                            ("t07_pseudo_datasets", 8), ("all", 68)])
def test_paper_dag(paper_with_placeholders, target, n_train):
    tmp, override = paper_with_placeholders
    p = snakemake("-n", target, "--configfile", str(ROOT / "config/paper.yaml"), str(override),
                  workdir=tmp / "work")
    counts = job_counts(p.stdout)
    assert counts["train_dsc"] == n_train
    assert counts["sample"] == {"t01_combinations": 6, "all": 6, "t07_pseudo_datasets": 1}.get(target, 3)
    assert "toyworld" not in counts  # real shards: nothing generated
    blocks = job_blocks(p.stdout, "train_dsc")
    assert len(blocks) == n_train
    for b in blocks:
        assert re.search(r"resources: .*\bgpu=1\b", b), b
        assert re.search(r"__n\d+", b)
    # sampling reads the user's shards, by their real paths
    sample = job_blocks(p.stdout, "sample")[0]
    assert str(tmp / "shards") in sample


def test_toy_dag(tmp_path):
    p = snakemake("-n", workdir=tmp_path)
    counts = job_counts(p.stdout)
    tables = ["t01_combinations", "t02_architectures", "f03_model_size", "f04_train_images",
              "t05_augmentation", "t06_corruptions", "t07_pseudo_datasets",
              "t08_mae_linear_probe", "t09_transfer", "t10_composition"]
    jobs = {"toyworld": 6, "sample": 6, "train_dsc": 66, "pretrain_mae": 2, "probe": 26}
    assert counts == {**jobs, "all": 1, **{t: 1 for t in tables},
                      "total": sum(jobs.values()) + 1 + len(tables)}


@pytest.mark.parametrize("target,expected", [
    ("t08_mae_linear_probe", {"train_dsc": 1, "pretrain_mae": 2, "probe": 2}),
    ("t09_transfer", {"train_dsc": 4, "pretrain_mae": 1, "probe": 6 * 9}),
])
def test_paper_transfer_dag(paper_with_placeholders, target, expected):
    tmp, override = paper_with_placeholders
    p = snakemake("-n", target, "--configfile", str(ROOT / "config/paper.yaml"), str(override),
                  workdir=tmp / f"work-{target}")
    counts = job_counts(p.stdout)
    assert {k: counts.get(k) for k in expected} == expected
    for rule in expected:
        for b in job_blocks(p.stdout, rule):
            assert re.search(r"resources: .*\bgpu=1\b", b), b
    if target == "t09_transfer":  # ViT-B probed at blocks 8, 9, 10 with blr 0.1, 0.2, 0.3
        assert all(re.search(r"__L(8|9|10)__blr0\.[123]", b) for b in job_blocks(p.stdout, "probe"))


def test_paper_composition_reads_every_sample(paper_with_placeholders):
    tmp, override = paper_with_placeholders
    p = snakemake("-n", "t10_composition", "--configfile", str(ROOT / "config/paper.yaml"),
                  str(override), workdir=tmp / "work10")
    counts = job_counts(p.stdout)
    assert counts["sample"] == 6 and "train_dsc" not in counts


def write_config(tmp_path, mutate):
    with open(ROOT / "config/config.yaml") as f:
        cfg = yaml.safe_load(f)
    mutate(cfg)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("mutate,needle", [
    (lambda c: c["sampling"].update(n_trian=5), "n_trian"),                      # unknown key
    (lambda c: c["train"].update(lr="fast"), "fast"),                            # wrong type
    (lambda c: c["train"]["augment"].update(mixup="yes"), "yes"),                # nested wrong type
    (lambda c: c.update(sampeling={}), "sampeling"),                             # unknown top-level key
    (lambda c: c["dataset_classification"]["t02_architectures"].update(datasets=["yfcc", "flickr"]),
     "flickr"),                                                                  # unresolvable dataset
    (lambda c: c["datasets"].update(mine={"shards": "/nonexistent/{0..3}.tar"}), "/nonexistent/0.tar"),
    (lambda c: c["datasets"].update(mine={"toy": "flickr"}), "flickr"),
])
def test_config_errors_stop_before_any_job(tmp_path, mutate, needle):
    cfg = write_config(tmp_path, mutate)
    p = snakemake("--configfile", str(cfg), workdir=tmp_path / "work", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert needle in out, out[-2000:]
    assert not (tmp_path / "work" / "results").exists()

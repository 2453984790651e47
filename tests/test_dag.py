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
    """config/paper.yaml with every dataset pointed at placeholder shard files (and the TextSpan
    text pool at a placeholder file)."""
    from vlmbias.bench import paper_placeholders

    tmp = tmp_path_factory.mktemp("paper")
    override = paper_placeholders(tmp)
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
    # all: + ImageNet-1K val and Waterbirds test (TextSpan)
    assert counts["sample"] == {"t01_combinations": 6, "all": 8, "t07_pseudo_datasets": 1}.get(target, 3)
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
    textspan = ["t18_textspan_mlp_ablation", "f19_textspan_msa_ablation", "t20_textspan_heads",
                "f21_token_heatmaps", "t22_textspan_waterbirds"]
    tables += textspan
    # the CLIP stack the TextSpan tables read: every toy source and labeled world sampled, one toy CLIP
    jobs = {"toyworld": 9, "sample": 10, "train_dsc": 63, "pretrain_mae": 2, "probe": 26, "train_clip": 1,
            "textspan_decompose": 2, "textspan_pool": 1, "textspan_ablations": 1, "textspan_heads": 1,
            "textspan_waterbirds": 1, "embed_clip": 1, "zeroshot_clip": 1,  # zero-shot from the cache
            "table_html": len(tables), "figure_report": 2 + 3}  # report pages: one per table/figure
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


# --- TextSpan (rules/textspan.smk) ---------------------------------------------------------------

@pytest.fixture(scope="module")
def paper_textspan(paper_with_placeholders):
    tmp, override = paper_with_placeholders
    with open(ROOT / "config/paper.yaml") as f:
        return tmp, override, yaml.safe_load(f)["textspan"]


@pytest.mark.parametrize("target", ["t18_textspan_mlp_ablation", "f19_textspan_msa_ablation", "t20_textspan_heads",
                                    "f21_token_heatmaps", "t22_textspan_waterbirds"])
def test_paper_textspan_dag(paper_textspan, target):
    tmp, override, ts = paper_textspan
    p = snakemake("-n", target, "--configfile", str(ROOT / "config/paper.yaml"), str(override),
                  workdir=tmp / f"work-{target}")
    counts = job_counts(p.stdout)
    n = len(ts["models"])
    assert n == 3  # ViT-B-16, ViT-L-14, ViT-H-14 with their LAION-2B weights: nothing trained
    expected = {
        "t18_textspan_mlp_ablation": {"sample": 1, "textspan_decompose": n, "textspan_ablations": n},
        "f19_textspan_msa_ablation": {"sample": 1, "textspan_decompose": n, "textspan_ablations": n},
        "t20_textspan_heads": {"sample": 1, "textspan_decompose": n, "textspan_pool": n, "textspan_heads": n},
        "f21_token_heatmaps": {"sample": 1},
        "t22_textspan_waterbirds": {"sample": 2, "textspan_decompose": 2 * n, "textspan_pool": n,
                                    "textspan_heads": n, "textspan_waterbirds": n},
    }[target]
    assert counts == {**expected, target: 1, "total": sum(expected.values()) + 1}
    for rule in ("textspan_decompose", "textspan_pool", "textspan_heads", "f21_token_heatmaps"):
        for b in job_blocks(p.stdout, rule):
            assert re.search(r"resources: .*\bgpu=1\b", b), b
    for rule in ("textspan_ablations", "textspan_waterbirds"):
        for b in job_blocks(p.stdout, rule):
            assert not re.search(r"\bgpu=1\b", b), b


@pytest.mark.parametrize("mutate,needle", [
    (lambda c: c["textspan"].update(lastlayers=4), "lastlayers"),                 # closed section
    (lambda c: c["textspan"].update(models=["vit_z"]), "vit_z"),                 # not a clip model
    (lambda c: c["textspan"].update(pool="/nonexistent/pool.txt"), "/nonexistent/pool.txt"),
    (lambda c: c["textspan"]["waterbirds"].update(dataset="birds"), "birds"),
])
def test_textspan_config_errors(tmp_path, mutate, needle):
    cfg = write_config(tmp_path, mutate)
    p = snakemake("--configfile", str(cfg), workdir=tmp_path / "work", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert needle in out, out[-2000:]
    assert not (tmp_path / "work" / "results").exists()


# --- the shared CLIP stack (rules/clip.smk) ------------------------------------------------------

def test_paper_clip_dag(paper_with_placeholders):
    """Pretrained LAION-2B models: nothing trained; every (model, dataset, split) embedded once."""
    tmp, override = paper_with_placeholders
    p = snakemake("-n", "clip", "--configfile", str(ROOT / "config/paper.yaml"), str(override),
                  workdir=tmp / "work-clip")
    counts = job_counts(p.stdout)
    assert counts == {"sample": 3, "embed_clip": 3 * 7, "zeroshot_clip": 3, "clip": 1, "total": 28}
    for rule in ("embed_clip", "zeroshot_clip"):
        for b in job_blocks(p.stdout, rule):
            assert re.search(r"resources: .*\bgpu=1\b", b), b
    assert "celeba/train.npz" in p.stdout and "vit_h14_laion2b/waterbirds/test.npz" in p.stdout


def test_toy_clip_dag(tmp_path):
    p = snakemake("-n", "clip", workdir=tmp_path)
    counts = job_counts(p.stdout)
    # toy sources imagenet, waterbirds, celeba, webpairs; one trained CLIP
    assert counts == {"toyworld": 4, "sample": 4, "train_clip": 1, "embed_clip": 7, "zeroshot_clip": 1,
                      "clip": 1, "total": 18}
    (train,) = job_blocks(p.stdout, "train_clip")
    assert re.search(r"resources: .*\bgpu=1\b", train) and "results/clip/toy_vit/model.pt" in train

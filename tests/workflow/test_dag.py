"""The DAG, built by Snakemake itself (dry runs): the paper protocol's jobs, GPU tags, and
config errors stopping the run before any job with a message naming the culprit."""

import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from vlmbias.tables import registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
with open(ROOT / "config/paper.yaml") as _f:
    PAPER = yaml.safe_load(_f)


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


# What a dry-run of each table's target builds on config/paper.yaml (placeholder shards): the
# material's protocol. Every table of the registry must be here (a new table adds its line).
PAPER_JOBS = {
    "t01_combinations": {"sample": 6, "train_dsc": 23, "dsc_table": 1},
    "t02_architectures": {"sample": 3, "train_dsc": 5, "dsc_table": 1},
    "f03_model_size": {"sample": 3, "train_dsc": 9, "dsc_figure_table": 1},
    "f04_train_images": {"sample": 3, "train_dsc": 6, "dsc_figure_table": 1},
    "t05_augmentation": {"sample": 3, "train_dsc": 12, "dsc_table": 1},
    "t06_corruptions": {"sample": 3, "train_dsc": 9, "dsc_table": 1},
    "t07_pseudo_datasets": {"sample": 1, "train_dsc": 8, "dsc_table": 1},
    # t08: the supervised ViT-B run, two MAEs and their probes; t09: four dataset-classification
    # ViTs + random + the MAE reference, each ONE probe job for its 3 layers x 3 base lrs
    "t08_mae_linear_probe": {"sample": 4, "train_dsc": 1, "pretrain_mae": 2, "probe": 2, "mae_probe_table": 1},
    "t09_transfer": {"sample": 6, "train_dsc": 4, "pretrain_mae": 1, "probe": 6, "transfer_table": 1},
    "t10_composition": {"sample": 6, "composition_table": 1},
    # B2T: the released ERM checkpoints predict the val split, ClipCap (Conceptual Captions weights) captions
    # it from the ViT-B/32 embeddings, which also score the keywords
    "t11_b2t_keywords": {"sample": 2, "b2t_predict": 2, "embed_clip": 2, "b2t_caption": 2, "b2t_keywords": 2,
                         "b2t_keywords_table": 1},
    # zero-shot CLIP RN50 on the test splits with the material's prompt table (no keywords needed)
    "t12_b2t_zeroshot": {"sample": 2, "embed_clip": 2, "b2t_zeroshot": 2, "b2t_zeroshot_table": 1},
    # the ImageNet ResNet-50 as it is (nothing trained) on ImageNet val, captioned and its keywords found
    "t13_b2t_label_diagnosis": {"sample": 1, "b2t_predict": 1, "embed_clip": 1, "b2t_caption": 1, "b2t_keywords": 1,
                                "b2t_label_diagnosis": 1, "b2t_diagnosis_table": 1},
    # four OpenAI CLIPs (QuickGELU): train and val embedded with the official preprocessing; a text head
    # per (model, setting, mode): Waterbirds none + 2 settings x 2 modes, CelebA none + 3 x 2
    # t14: the official UrbanCars folder converted once, then 14 rows + the GroupDRO oracle x 6 seeds
    "t14_lle_urbancars": {"lle_convert_urbancars": 1, "sample": 1, "lle_urbancars": 15 * 6, "lle_urbancars_table": 1},
    # t15: nothing trained before LLR (pretrained R50, MAE and SWAG ViTs): R50 x 5 methods, 3 MAE ViTs and SWAG
    # ViT-B x (as is, LLE), 1 seed; two CLIP zero-shot rows from 5 embedded sets + IN-1k val under ImageNet-W each
    "t15_lle_imagenet": {"sample": 5, "lle_imagenet": 5 + 4 * 2, "embed_clip": 2 * 5, "embed_clip_preprocessed": 2,
                         "lle_imagenet_clip": 2, "lle_imagenet_table": 1},
    "t16_perceptionclip_waterbirds": {"sample": 1, "embed_clip_preprocessed": 4 * 2, "perceptionclip_head": 4 * 5,
                                      "perceptionclip_eval": 4, "perceptionclip_table": 1},
    "t17_perceptionclip_celeba": {"sample": 1, "embed_clip_preprocessed": 4 * 2, "perceptionclip_head": 4 * 7,
                                  "perceptionclip_eval": 4, "perceptionclip_table": 1},
    # three pretrained LAION-2B CLIPs (nothing trained); ImageNet val and Waterbirds test sampled
    "t18_textspan_mlp_ablation": {"sample": 1, "textspan_decompose": 3, "textspan_ablations": 3,
                                  "textspan_mlp_table": 1},
    "f19_textspan_msa_ablation": {"sample": 1, "textspan_decompose": 3, "textspan_ablations": 3,
                                  "textspan_msa_table": 1},
    "t20_textspan_heads": {"sample": 1, "textspan_decompose": 3, "textspan_pool": 3, "textspan_heads": 3,
                           "textspan_heads_table": 1},
    "f21_token_heatmaps": {"sample": 1, "textspan_heatmaps": 3, "textspan_heatmaps_table": 1},
    "t22_textspan_waterbirds": {"sample": 2, "textspan_decompose": 6, "textspan_pool": 3, "textspan_heads": 3,
                                "textspan_waterbirds": 3, "textspan_waterbirds_table": 1},
}
PAPER_SCAN_CHUNKS = {"laion": 64, "datacomp": 40}  # config/paper.yaml: datasets.<name>.scan_chunks
CPU_RULES = {"sample", "sample_scan", "shard_manifest", "textspan_ablations", "textspan_waterbirds", "perceptionclip_eval", "b2t_label_diagnosis",
             "lle_convert_urbancars"}  # + every table rule


def test_every_table_is_expected():
    assert set(PAPER_JOBS) == set(registry.ids())


@pytest.mark.parametrize("table", registry.ids())
def test_paper_dag(paper_with_placeholders, table):
    """Each table's target builds exactly its jobs; the rule the registry names writes it; GPU
    rules carry gpu=1, the others none; real shards are read where they are (nothing generated)."""
    tmp, override = paper_with_placeholders
    p = snakemake("-n", table, "--configfile", str(ROOT / "config/paper.yaml"), str(override),
                  workdir=tmp / f"work-{table}")
    counts = job_counts(p.stdout)
    expected = dict(PAPER_JOBS[table])  # + one shard manifest per sampled user dataset (not the converted one)
    expected["shard_manifest"] = expected.get("sample", 0) - ("lle_convert_urbancars" in expected)
    # + the header pass's chunks of each sampled dataset that splits it (paper.yaml: laion 64, datacomp 40)
    sampled = set(re.findall(r"output: results/samples/(\w+)/shards", p.stdout))
    assert len(sampled) == expected.get("sample", 0)
    expected["sample_scan"] = sum(PAPER_SCAN_CHUNKS.get(d, 0) for d in sampled)
    expected = {k: v for k, v in expected.items() if v}
    assert counts == {**expected, table: 1, "total": sum(expected.values()) + 1}
    for d in sampled & set(PAPER_SCAN_CHUNKS):  # sample reads each chunk's candidates and counts
        n = PAPER_SCAN_CHUNKS[d]
        (block,) = [b for b in job_blocks(p.stdout, "sample") if f"results/samples/{d}/shards" in b]
        for c in (0, n - 1):
            assert f"results/samples/{d}/scan/{c:04d}-of-{n:04d}.parquet.json" in block, block
    t = registry.table(table)
    (writer,) = job_blocks(p.stdout, t.rule)
    for path in [f"results/tables/{table}.csv", f"results/tables/{table}.md", *t.figure_paths(PAPER)]:
        assert path in writer, (path, writer)
    assert not re.search(r"\bgpu=", writer)
    for rule in expected:
        gpu = rule not in CPU_RULES and not rule.endswith("_table")
        for b in job_blocks(p.stdout, rule):
            assert bool(re.search(r"resources: .*\bgpu=1\b", b)) == gpu, (rule, b)
    if "train_dsc" in expected:
        assert all(re.search(r"__n\d+", b) for b in job_blocks(p.stdout, "train_dsc"))
    if "t09" in table:  # one probe job per encoder, on the labeled task (its heads: test_dsc_plan.py)
        assert all(re.search(r"output: results/runs/probe/\S+__labels-imagenet/", b)
                   for b in job_blocks(p.stdout, "probe"))
    sample = job_blocks(p.stdout, "sample")[0]  # a user's shards through their manifest, not as 388k inputs
    if "lle_convert_urbancars" in expected:
        assert "results/converted/" in sample and "results/manifests/" not in sample
    else:
        assert "input: results/manifests/" in sample and str(tmp / "shards") not in sample, sample
        assert all("input:" not in b for b in job_blocks(p.stdout, "shard_manifest"))
    if "lle_urbancars" in expected:  # one job per (method, seed); the converter reads the official tree
        runs = {re.search(r"output: results/lle/urbancars/(\w+)/seed(\d+)/", b).groups()
                for b in job_blocks(p.stdout, "lle_urbancars")}
        assert len(runs) == 90 and {s for _, s in runs} == {str(i) for i in range(6)}
        assert str(tmp / "official" / "urbancars") in job_blocks(p.stdout, "lle_convert_urbancars")[0]


def test_paper_dag_all(paper_with_placeholders):
    tmp, override = paper_with_placeholders
    p = snakemake("-n", "--configfile", str(ROOT / "config/paper.yaml"), str(override), workdir=tmp / "work-all")
    counts = job_counts(p.stdout)
    assert counts["train_dsc"] == 68 and counts["sample"] == 14 and "toyworld" not in counts
    assert counts["shard_manifest"] == 13  # every sampled dataset but the converted UrbanCars
    assert counts["sample_scan"] == sum(PAPER_SCAN_CHUNKS.values())
    assert counts["table_html"] == len(registry.ids())


def test_toy_dag(tmp_path):
    p = snakemake("-n", workdir=tmp_path)
    counts = job_counts(p.stdout)
    tables = registry.ids()  # the default config asks for every table
    writers = {}
    for t in tables:
        writers[registry.table(t).rule] = writers.get(registry.table(t).rule, 0) + 1
    # the CLIP stack the TextSpan tables read: every toy source and labeled world sampled, one toy CLIP;
    # t08/t09: one probe job per encoder and task (t09: 6 encoders, each a 2 x 2 sweep; t08: 2 MAEs)
    jobs = {"toyworld": 13, "sample": 14, "train_dsc": 66 + 66,  # t05 at its own budget: tests/dsc/test_dsc_plan.py
            "pretrain_mae": 2, "probe": 8, "train_clip": 1,
            "textspan_decompose": 2, "textspan_pool": 1, "textspan_ablations": 1, "textspan_heads": 1,
            "textspan_waterbirds": 1, "textspan_heatmaps": 1, "embed_clip": 7 + 5, "zeroshot_clip": 1,
            "perceptionclip_head": 12, "perceptionclip_eval": 2,
            "b2t_train_classifier": 3, "b2t_predict": 3, "b2t_train_captioner": 1, "b2t_caption": 3, "b2t_keywords": 3,
            "b2t_zeroshot": 2, "b2t_label_diagnosis": 1,
            "lle_urbancars": 15 * 3,  # t14: 14 rows + the GroupDRO oracle, 3 seeds
            # t15: the toy backbone trained once, as is + 5 LLR methods x 3 seeds, the toy CLIP's row
            "lle_imagenet_backbone": 1, "lle_imagenet": 1 + 5 * 3, "lle_imagenet_clip": 1, "embed_clip_preprocessed": 1,
            "table_html": len(tables), "figure_report": 2 + 2 + 3 + 1, **writers}  # report pages: one per figure
    assert counts == {**jobs, "all": 1, "total": sum(jobs.values()) + 1}


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
    (lambda c: c["textspan"].update(models=["vit_z"]), "vit_z"),                 # not a clip model
    (lambda c: c["textspan"].update(pool="/nonexistent/pool.txt"), "/nonexistent/pool.txt"),
    (lambda c: c["textspan"]["waterbirds"].update(dataset="birds"), "birds"),
    (lambda c: c["ssl"]["t09_transfer"].update(task="flickr"), "flickr"),
    (lambda c: c["clip"]["models"].update(big={"open_clip": "ViT-Q-99"}), "ViT-Q-99"),
    (lambda c: c["b2t"]["captioner"].update(weights="/x/clipcap.pt"), "exactly one of train"),
    (lambda c: c["b2t"]["tasks"]["celeba"].update(audit_split="holdout"), "holdout"),
    (lambda c: c["b2t"]["label_diagnosis"].update(task="imagenet21k"), "imagenet21k"),
    (lambda c: c["b2t"]["classifier"].update(pretrained=["birds"]), "birds"),
    (lambda c: c["corruptions"].update({"noise_0.2": {"type": "gaussian_noise", "strength": 0.2}}),
     "corruptions.noise_0.2: corruption gaussian_noise takes exactly one parameter 'std'"),   # a t06 row's setting
    (lambda c: c["corruptions"].update({"color_jitter_2.0": {"type": "color_jitter", "strength": 3.0}}),
     "corruptions.color_jitter_2.0: color_jitter strength 3.0 with form simclr"),
])
def test_config_errors_stop_before_any_job(tmp_path, mutate, needle):
    cfg = write_config(tmp_path, mutate)
    p = snakemake("--configfile", str(cfg), workdir=tmp_path / "work", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert needle in out, out[-2000:]
    assert not (tmp_path / "work" / "results").exists()


@pytest.mark.parametrize("table", registry.ids())
def test_every_table_section_is_closed(tmp_path, table):
    """A misspelt key in the config section of any table stops the run, naming the key."""
    def mutate(c):
        registry.table(table).section(c)[f"{table[:3]}_misspelt"] = 1

    cfg = write_config(tmp_path, mutate)
    p = snakemake("--configfile", str(cfg), workdir=tmp_path / "work", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and f"{table[:3]}_misspelt" in out, out[-2000:]
    assert not (tmp_path / "work" / "results").exists()


# --- the shared CLIP stack (rules/clip.smk) ------------------------------------------------------

def test_paper_clip_dag(paper_with_placeholders):
    """Pretrained models (TextSpan's three LAION-2B CLIPs, PerceptionCLIP's four OpenAI ones):
    nothing trained; every (model, dataset, split) embedded once."""
    tmp, override = paper_with_placeholders
    p = snakemake("-n", "clip", "--configfile", str(ROOT / "config/paper.yaml"), str(override),
                  workdir=tmp / "work-clip")
    counts = job_counts(p.stdout)
    assert counts == {"shard_manifest": 3, "sample": 3, "embed_clip": 7 * 7, "zeroshot_clip": 7, "clip": 1, "total": 63}
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

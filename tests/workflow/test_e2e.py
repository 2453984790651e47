"""End to end: the small toy config through the whole DAG (toy world -> sampling -> every
training, pre-training and probe run -> every table and figure), checked against the planted
truth."""

import json
import pathlib
import re
import subprocess
import sys

import pandas as pd
import pytest

from vlmbias.dsc import findings
from vlmbias.tables.registry import reported

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHANCE3 = 100 / 3
# t13 at smoke: 60 val images, 11 mislabeled + 1 ambiguous planted. Flagging at random as many
# images as B2T flags (~7) would give precision ~0.2 and mislabeled recall ~0.12; the smoke run
# measured 0.86 and 0.45 on one machine, 0.80 and 0.27 (3 of 11) on another (float-level
# differences of the CPU change the trained classifier).
PRECISION_MIN = 0.6
RECALL_MIN = 0.25
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("smoke")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work),
           "--cores", "2", "--configfile", str(ROOT / "config/config.yaml"),
           str(ROOT / "config/smoke.yaml"), "--show-failed-logs"]
    # a guard against a hang, not a speed test: the smoke DAG is 234 jobs, 2,900-4,400 s of job time,
    # 25-38 min on a 2-core machine alone (the same machine on two days); 30 min was too close
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    return work


def test_t01_planted_truth(smoke_run):
    df = pd.read_csv(smoke_run / "results/tables/t01_combinations.csv")
    assert len(df) == 24 and df["reproduced_acc"].notna().all()
    rep = reported("t01_combinations")
    assert (df["reported_acc"] == df["combination"].map(rep)).all()
    three = df[df["panel"] == "three-way"]
    assert len(three) == 20
    # every three-way combination well above chance (180 validation images: 10 points is > 4 s.e.)
    assert (three["reproduced_acc"] > CHANCE3 + 10).all(), three
    # the four three-way rows that hold both the LAION and the DataComp stand-ins are the four
    # lowest (seeds 0 and 1 at this scale: they end 8-11 points below the fifth), far below the rest
    both = three["combination"].str.contains("D") & three["combination"].str.contains("L")
    assert both.sum() == 4
    lowest = three.nsmallest(4, "reproduced_acc")
    assert set(lowest["combination"]) == set(three.loc[both, "combination"]), three
    gap = three.loc[~both, "reproduced_acc"].mean() - three.loc[both, "reproduced_acc"].mean()
    assert gap > 15, (gap, three)
    md = (smoke_run / "results/tables/t01_combinations.md").read_text()
    assert "reproduced_acc" in md and "84.7" in md and "62.8" in md


def test_t02_architectures(smoke_run):
    df = pd.read_csv(smoke_run / "results/tables/t02_architectures.csv")
    assert list(df["model"]) == ["AlexNet", "VGG-16", "ResNet-50", "ViT-S", "ConvNeXt-T"]
    assert (df["reproduced_acc"] > CHANCE3 + 15).all(), df
    assert list(df["reported_acc"]) == [77.8, 83.5, 83.8, 82.4, 84.7]
    t01 = pd.read_csv(smoke_run / "results/tables/t01_combinations.csv")
    ycd = t01[t01["combination"] == "YCD"]["reproduced_acc"].iloc[0]
    assert df[df["model"] == "ConvNeXt-T"]["reproduced_acc"].iloc[0] == ycd  # one shared run


def test_side_outputs(smoke_run):
    for d in ["yfcc", "cc", "datacomp", "wit", "laion", "imagenet"]:
        counts = json.loads((smoke_run / f"results/samples/{d}/bad_input.json").read_text())
        assert counts["identity_holds"] and counts["used"] == 210
        assert (smoke_run / f"benchmarks/data/sample/{d}.tsv").exists()
    runs = list((smoke_run / "results/runs/dsc").glob("*/metrics.json"))
    # the smoke overlay trims the sweeps (config/smoke.yaml) to 44 runs; f03, f04, t05 and t06 run
    # over 3 seeds: 2 x 16 further runs (f03 2, f04 4 - 1 shared, t05 8 at its own budget, t06 4 - 1)
    assert len(runs) == 44 + 32
    assert len(list((smoke_run / "benchmarks/dsc/train_dsc").glob("*.tsv"))) == 44 + 32
    m = json.loads(next(r for r in runs if "__ss" not in r.parent.name).read_text())
    assert m["samples_seen"] == 6400 and m["run_info"]["device"] == "cpu"


def table(run, name):
    return pd.read_csv(run / f"results/tables/{name}.csv")


def test_every_table_and_figure(smoke_run):
    for t in ["t01_combinations", "t02_architectures", "f03_model_size", "f04_train_images",
              "t05_augmentation", "t06_corruptions", "t07_pseudo_datasets", "t08_mae_linear_probe",
              "t09_transfer", "t10_composition"]:
        assert (smoke_run / f"results/tables/{t}.md").stat().st_size > 200
        assert len(table(smoke_run, t)) > 0
    for f in ["f03_model_size", "f04_train_images"]:
        png = (smoke_run / f"results/figures/{f}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_f03_smallest_convnext_below_convnext_t(smoke_run):
    df = table(smoke_run, "f03_model_size").set_index("model")
    assert df.loc["convnext_7k", "params"] == 7153   # the paper's 7,373 with the patchify stem
    assert df.loc["convnext_7k", "reproduced_acc"] < df.loc["convnext_t", "reproduced_acc"]
    assert df.loc["convnext_7k", "reported_acc"] == 72.4
    assert (df["seeds"] == 3).all() and (df["reproduced_acc_std"] > 0).all()
    # monotone within the spread (vlmbias.dsc.findings: no step down beyond 2 s.e. of the seeds)
    d = df.reset_index().sort_values("params")
    assert "no step down beyond the spread: yes" in findings.model_size(d)[0], d


def test_f04_more_images_not_worse(smoke_run):
    """Both models: no fall with images beyond the spread of 3 seeds (at smoke scale, 20 and 150
    images per dataset, AlexNet's two sizes are level: 69.4 +- 3.9 and 65.2 +- 4.7 in one run)."""
    df = table(smoke_run, "f04_train_images")
    assert (df["seeds"] == 3).all()
    for model, d in df.groupby("model"):
        idx = list(d.sort_values("n_train").index)
        assert all(findings.compare(df, b, a) != "lower" for a, b in zip(idx, idx[1:])), (model, d)
    cnx = df[df["model"] == "ConvNeXt-T"].sort_values("n_train")["reproduced_acc"]
    assert cnx.iloc[-1] > cnx.iloc[0], cnx
    assert "Finding, ConvNeXt-T rises with images" in (smoke_run / "results/tables/f04_train_images.md").read_text()


def test_t05_rows_rise_and_augmentation_helps_at_the_largest_size(smoke_run):
    """t05 at its own budget (8x the smoke's), 20 and 150 images per dataset, 3 seeds. Measured:
    no_aug 69.1 +- 2.6 -> 75.9 +- 2.6, crop 79.3 +- 2.1 -> 86.1 +- 1.0, crop_randaug 75.2 +- 3.1 ->
    83.7 +- 0.6, default 79.1 +- 0.6 -> 80.4 +- 0.8. Every row rises; the first three beyond the
    spread (default's rise is 1.3 against twice its standard error, 1.2: not asserted beyond it).
    At 150 images every augmented column above no_aug."""
    full = table(smoke_run, "t05_augmentation")
    assert (full["seeds"] == 3).all() and full["run"].str.contains("__ss51200").all()
    for aug, d in full.groupby("augmentation"):
        small, large = d.sort_values("n_train").index
        assert list(full.loc[[small, large], "n_train"]) == [20, 150]
        assert full.at[large, "reproduced_acc"] > full.at[small, "reproduced_acc"], (aug, d)
        if aug != "default":
            assert findings.compare(full, large, small) == "higher", (aug, d)
    md = (smoke_run / "results/tables/t05_augmentation.md").read_text()
    assert re.search(r"Finding, crop rises with images: [0-9.]+ → [0-9.]+: yes\.", md), md
    df = full[full["n_train"] == 150].set_index("augmentation")
    no_aug = df.loc["no_aug", "reproduced_acc"]
    assert (df.drop(index="no_aug")["reproduced_acc"] > no_aug + 2).all(), df


def test_t06_corruptions_lower_accuracy(smoke_run):
    df = table(smoke_run, "t06_corruptions").set_index("corruption")
    none = df.loc["none", "reproduced_acc"]
    corrupted = df.drop(index="none")["reproduced_acc"]
    assert corrupted.mean() < none - 2, df
    assert (corrupted < none).sum() >= len(corrupted) // 2, df
    assert df.loc["color_jitter_1.0", "reproduced_acc"] < none  # destroys the palette signature
    # the stronger setting lower (measured: jitter 1.0 65.6 +- 2.0, 2.0 58.0 +- 3.6; the default run 64.6 / 56.1)
    assert df.loc["color_jitter_2.0", "reproduced_acc"] < df.loc["color_jitter_1.0", "reproduced_acc"] - 3, df
    assert "Finding, the stronger color_jitter lower" in (smoke_run / "results/tables/t06_corruptions.md").read_text()


def test_t07_pseudo_datasets_near_chance_real_far_above(smoke_run):
    df = table(smoke_run, "t07_pseudo_datasets")
    assert (df["reproduced_val_acc"] - 100 / 3).abs().max() < 15, df
    three = table(smoke_run, "t01_combinations").query("panel == 'three-way'")["reproduced_acc"]
    assert three.min() > df["reproduced_val_acc"].max()
    assert three.mean() > df["reproduced_val_acc"].mean() + 25
    no_aug_small = df[(df["augmentation"] == "no_aug")].sort_values("n_per_set").iloc[0]
    assert no_aug_small["train_acc"] > 90  # memorised, as in the paper's small no-aug cells


def test_t08_t09_transfer(smoke_run):
    t08 = table(smoke_run, "t08_mae_linear_probe")
    assert (t08["reproduced_acc"] > 100 / 3 + 10).all(), t08
    t09 = table(smoke_run, "t09_transfer")
    assert t09["reproduced_acc"].notna().all() and (t09["chance"] == 10.0).all()
    assert len(t09) == 4 and t09["sweep"].str.count("blr").eq(1).all()
    # the planted truths: every dataset-classification row above random weights', the Y+C+D row (the
    # material's own three) and the MAE reference beyond the binomial spread of the 600 probe val
    # images (vlmbias.dsc.findings). Measured: random 17.5, Y+C+D 27.7, Y+C+D+W+L+I 27.7, MAE 41.8 on
    # one CPU; 19.7 / 26.7 / 23.8 / 42.2 on another (AVX-512 and AMX), where the six-dataset row is
    # above random by 4.1 points, inside twice the standard error (4.7): not asserted beyond the spread.
    assert (t09["n_val"] == 600).all()
    acc = t09.set_index("pretraining")["reproduced_acc"]
    dsc = acc.drop(index=["random weights", "MAE (reference)"])
    assert acc["random weights"] < dsc.min() and dsc.max() < acc["MAE (reference)"], acc
    spread = t09.set_index("pretraining").assign(   # the spread the table's findings use
        reproduced_acc_std=lambda d: [findings.binomial_se(a, n) for a, n in zip(d["reproduced_acc"], d["n_val"])],
        seeds=1)
    assert findings.compare(spread, "Y+C+D", "random weights") == "higher", acc
    md = (smoke_run / "results/tables/t09_transfer.md").read_text()
    assert re.search(r"Finding, dataset-classification features transfer .*: (yes|NO \(1 of 2 above)", md), md
    assert re.search(r"Finding, the MAE reference far above them .*: yes\.", md), md


# ---- the CLIP stack and TextSpan (issue 4), on the toy CLIP trained in the same run

def test_toy_clip_zero_shot_far_above_chance(smoke_run):
    zs = json.loads((smoke_run / "results/clip/toy_vit/zeroshot.json").read_text())
    trained = json.loads((smoke_run / "results/clip/toy_vit/metrics.json").read_text())
    assert zs["chance"] == 10.0 and zs["n"] == 60
    # 60 images: chance 10% has a standard error of ~4 points; the toy CLIP is far above it
    assert zs["top1"] >= 25.0, zs["top1"]
    # the cached embeddings give the number the training job measured on the images
    assert abs(zs["top1"] - trained["zero_shot"]["top1"]) < 1e-6


def test_toy_clip_competent_and_biased(smoke_run):
    """Issue 10's toy-CLIP targets at smoke scale (the default run's are higher: see config.yaml's
    clip section). Measured once at smoke scale: objects 62%, Waterbirds 69 avg / 34 worst,
    CelebA 85 avg / blond men 46. Asserted: objects >= 45; Waterbirds avg >= 60 with the
    background correlation visible (worst group >= 15 points below the average); CelebA avg >= 70
    with the gender correlation visible (blond men the worst group)."""
    zs = json.loads((smoke_run / "results/clip/toy_vit/zeroshot.json").read_text())
    assert zs["top1"] >= 45.0, zs["top1"]

    def plain(task):   # PerceptionCLIP's Z = none row: plain zero-shot on the task's test split
        rows = json.loads((smoke_run / f"results/perceptionclip/toy_vit/{task}.json").read_text())["rows"]
        return next(r["eval"] for r in rows if r["setting"] == "none")

    wb = plain("waterbirds")
    assert wb["avg"] >= 60 and wb["worst"] <= wb["avg"] - 15, wb
    cel = plain("celeba")
    assert cel["avg"] >= 70 and cel["cells"]["1/1"] == min(cel["cells"].values()), cel


def test_textspan_tables(smoke_run):
    t18 = table(smoke_run, "t18_textspan_mlp_ablation")
    zs = json.loads((smoke_run / "results/clip/toy_vit/zeroshot.json").read_text())
    # the decomposition's base accuracy is the model's own zero-shot accuracy (the terms sum exactly)
    assert abs(t18["reproduced_base_acc"].iloc[0] - round(zs["top1"], 2)) < 0.01, (t18, zs["top1"])
    assert t18["reproduced_mlp_ablated_acc"].notna().all()
    f19 = table(smoke_run, "f19_textspan_msa_ablation")
    assert list(f19["n_ablated"]) == list(range(len(f19)))
    # ablating every attention layer (MLPs intact) leaves far less than the full model
    assert f19["reproduced_acc"].iloc[-1] < f19["reproduced_acc"].iloc[0]
    t20 = table(smoke_run, "t20_textspan_heads")
    assert (t20["explained_var_pct"] > 0).all() and (t20["explained_var_pct"] <= 100).all()
    assert t20["texts"].str.len().gt(0).all()
    t22 = table(smoke_run, "t22_textspan_waterbirds")
    assert {"base (full model)", "+ place heads ablated (TextSpan)"} <= set(t22["setting"])
    md = (smoke_run / "results/tables/t22_textspan_waterbirds.md").read_text()
    # the table says plainly whether ablating the place heads raised the worst group
    assert "raised the worst group" in md or "NOT raise" in md or "NO place head" in md
    for f in ["f19_textspan_msa_ablation", "t20_textspan_heads_toy_vit", "f21_token_heatmaps_toy_vit"]:
        png = (smoke_run / f"results/figures/{f}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000, f


# ---- B2T (issue 11) and PerceptionCLIP (issue 10), on the toy CLIP and toy ClipCap of the same run

def _names_place(keyword, places):
    from vlmbias.b2t.keywords import holds

    return any(holds(p, keyword) or holds(keyword, p) for p in places)


def test_b2t_keywords_name_the_planted_places(smoke_run):
    from vlmbias.toyworld.labeled import LAND_PLACES, WATER_PLACES

    t11 = table(smoke_run, "t11_b2t_keywords")
    assert set(t11["dataset"]) <= {"waterbirds", "celeba"}   # the label-diagnosis task has no groups
    wb = t11[t11["dataset"] == "waterbirds"]
    for cls, places in (("waterbird", LAND_PLACES), ("landbird", WATER_PLACES)):
        rows = wb[wb["class"] == cls].sort_values("reproduced_score", ascending=False)
        top = rows.iloc[0]
        # the strongest keyword of the waterbird class is a land place, of the landbird class a water place,
        # and the class's images captioned with it are classified worse than the class as a whole
        assert _names_place(top["keyword"], places), rows.head(5)
        assert top["reproduced_subgroup_acc"] < top["class_acc"], rows.head(5)
        assert top["reproduced_tag"] == "S", rows.head(5)   # scores positive in this class only
    md = (smoke_run / "results/tables/t11_b2t_keywords.md").read_text()
    assert "third-party run" in md and "toy ClipCap" in md


def test_b2t_pos_prompts_raise_the_worst_group(smoke_run):
    t12 = table(smoke_run, "t12_b2t_zeroshot").set_index("prompt")
    wb = t12["reproduced_worst (waterbirds)"]
    assert wb["+ B2T-pos"] > wb["Base prompt"], t12
    assert t12.loc["Base prompt", "reported_worst (waterbirds)"] == 50.3
    # the templates were built from t11's keywords: a land and a water place among them
    from vlmbias.toyworld.labeled import LAND_PLACES, WATER_PLACES

    templates = t12.loc["+ B2T-pos", "class templates (waterbirds)"].split(" | ")
    assert any(_names_place(t.replace("{c}", ""), LAND_PLACES) for t in templates), templates
    assert any(_names_place(t.replace("{c}", ""), WATER_PLACES) for t in templates), templates


def test_b2t_label_diagnosis_recovers_planted_errors(smoke_run):
    run = json.loads((smoke_run / "results/b2t/imagenet/diagnosis.json").read_text())
    assert run["planted_truth"] and run["n_planted"] >= 11
    mis = run["recall"]["mislabeled"]
    assert run["precision"] >= PRECISION_MIN, run
    assert mis["recall"] >= RECALL_MIN, run
    t13 = table(smoke_run, "t13_b2t_label_diagnosis")
    assert (t13["reported"] == "yes").sum() == 4 and (t13["reported"] != "yes").sum() >= 1
    png = (smoke_run / "results/figures/t13_b2t_label_diagnosis.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_perceptionclip_conditioning_on_the_background(smoke_run):
    t16 = table(smoke_run, "t16_perceptionclip_waterbirds")
    none = t16[t16["setting"] == "none"].iloc[0]
    assert none["mode"] == "zero_shot" and none["reported_worst (ViT-B/32)"] == 47.28
    conditioned = t16[t16["setting"].str.startswith("background")]
    # inferring the background and conditioning on it raises the worst group over plain zero-shot
    # (ClassAttr, the material's default mode; tau chosen on val)
    worst = conditioned[conditioned["mode"] == "class_attr"]["reproduced_worst (toy_vit)"]
    assert worst.max() > none["reproduced_worst (toy_vit)"], t16
    t17 = table(smoke_run, "t17_perceptionclip_celeba")
    assert t17["reproduced_avg (toy_vit)"].notna().all()
    inf = pd.read_csv(smoke_run / "results/tables/t16_perceptionclip_waterbirds_inference.csv")
    # P(z|x) finds the background far above chance (two values)
    assert inf[inf["setting"] == "background"]["acc"].max() > 75, inf


def test_lle_urbancars_whac_a_mole_and_lle(smoke_run):
    """t14's planted truths (3 seeds, means; the smoke's rows are the default run's): ERM takes
    both shortcuts and the two together overrule the car; AugMix narrows the CoObj gap and widens
    the BG gap (the Whac-A-Mole pattern); LLE narrows the BG and BG+CoObj gaps. The numbers move
    a lot with a CPU's float-level differences (the same code, seeds and data):

    | CPU | ERM BG / CoObj / BG+CoObj | AugMix CoObj / BG | LLE BG / CoObj / BG+CoObj |
    |---|---|---|---|
    | one | -36.6 / -11.6 / -65.9 | +1.8 / -66.7 | -25.1 / -5.1 / -39.0 |
    | another | | | -25.9 / -10.9 / -51.6 |
    | a third (AVX-512 + AMX) | -48.4 / -3.3 / -64.1 | +2.2 / -68.1 | -16.6 / -14.9 / -41.9 |

    (the material: ERM -15.3 / -11.2 / -69.2). The margins sit below the smallest of these. Not
    asserted: LLE against ERM on the CoObj gap, which the material and the first CPU show narrowed
    and the third widened by 11.6. (JTT (E=2), the Whac-A-Mole row here before, widened the CoObj
    gap by 10 points on one CPU and by 0.6 on another.)"""
    df = pd.read_csv(smoke_run / "results/tables/t14_lle_urbancars.csv").set_index("method")
    assert list(df.index) == ["erm", "augmix", "lle"] and (df["seeds"] == 3).all()
    assert df.loc["erm", "both_gap_reported"] == -69.2 and df.loc["lle", "id_acc_reported"] == 96.7
    erm, augmix, lle = df.loc["erm"], df.loc["augmix"], df.loc["lle"]
    assert erm["id_acc"] > 93 and erm["both_gap"] < -45 and erm["bg_gap"] < -20 and erm["coobj_gap"] < -2, erm
    assert erm["both_gap"] < erm["bg_gap"] + erm["coobj_gap"] - 5, erm  # together they overrule the car
    assert augmix["coobj_gap"] > erm["coobj_gap"] + 3 and augmix["bg_gap"] < erm["bg_gap"] - 12, df
    assert lle["id_acc"] > 93 and lle["both_gap"] > erm["both_gap"] + 7 and lle["bg_gap"] > erm["bg_gap"] + 3, df
    md = (smoke_run / "results/tables/t14_lle_urbancars.md").read_text()
    assert "±" in md and "ERM relies on background and co-object" in md
    assert ("LLE against ERM: narrows BG, BG+CoObj" in md or "LLE against ERM: narrows all three" in md) \
        and "AugMix (CoObj" in md


def test_lle_imagenet_whac_a_mole_and_lle(smoke_run):
    """t15's planted truths (2 seeds, means; LLR on one toy backbone trained by ERM): ERM relies on
    every shortcut (texture and background gaps large, the watermark pushes carton images towards
    carton); WTM Aug closes the watermark gap and leaves the texture and background gaps as they
    are (the Whac-A-Mole reading); LLE narrows the IN-W, SIN, IN-R and IN-9 gaps together. Not
    asserted: the carton gap, measured on the 25 carton images of val (4 points each): LLE's sat
    at ERM's +4 in one run and at +12 in a run that differed only by the memory format."""
    df = pd.read_csv(smoke_run / "results/tables/t15_lle_imagenet.csv").set_index("key")
    assert list(df.index) == ["resnet50/as_is", "resnet50/erm", "resnet50/wtm_aug", "resnet50/lle", "clip/toy_vit"]
    assert (df.loc[["resnet50/erm", "resnet50/wtm_aug", "resnet50/lle"], "seeds"] == 2).all()
    assert df.loc["resnet50/erm", "in_w_gap_reported"] == -25.40 and df.loc["resnet50/lle", "in9_gap_reported"] == -3.82
    erm, wtm, lle = df.loc["resnet50/erm"], df.loc["resnet50/wtm_aug"], df.loc["resnet50/lle"]
    assert erm["in1k"] > 80 and erm["carton_gap"] > 0 and erm["in_w_gap"] < -3, erm
    assert erm["sin_gap"] < -30 and erm["in_r_gap"] < -30 and erm["in9_gap"] < -5, erm
    assert wtm["in_w_gap"] > erm["in_w_gap"] + 3, df
    assert abs(wtm["sin_gap"] - erm["sin_gap"]) < 2 and wtm["in9_gap"] < erm["in9_gap"] + 2.5, df
    assert lle["in_w_gap"] > erm["in_w_gap"] + 2.5 and lle["sin_gap"] > erm["sin_gap"] + 1, df
    # IN-9: 2 seeds with std <= 0.5, so 1 point is > 2 s.e. (measured +1.8 and more)
    assert lle["in_r_gap"] > erm["in_r_gap"] and lle["in9_gap"] > erm["in9_gap"] + 1, df
    # the CLIP row is computed from the toy CLIP's embedding cache (ImageNet-W as a preprocessing)
    assert df.loc["clip/toy_vit", ["in1k", "in_w_gap", "sin_gap", "in_r_gap", "in9_gap"]].notna().all()
    md = (smoke_run / "results/tables/t15_lle_imagenet.md").read_text()
    assert "±" in md and "LLE against ERM: narrows" in md and "WTM Aug against ERM" in md

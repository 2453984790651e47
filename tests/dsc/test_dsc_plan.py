"""Runs and table rows derived from config: t01 has 23 distinct runs, t02 five, shared YCD."""

import copy
import json

import pytest
import yaml

from vlmbias.dsc import plan as P
from vlmbias.dsc import spec as S
from vlmbias.tables import registry

with open("config/config.yaml") as f:
    TOY = yaml.safe_load(f)
with open("config/paper.yaml") as f:
    PAPER = yaml.safe_load(f)


@pytest.mark.parametrize("cfg", [TOY, PAPER], ids=["toy", "paper"])
def test_t01_rows_and_runs(cfg):
    rows = P.table_rows(cfg, "t01_combinations")
    assert len(rows) == 24  # 20 three-way + the nested 3/4/5/6-way panel (YCD appears in both)
    assert [r["combination"] for r in rows[:4]] == ["YCD", "YCW", "YCL", "YCI"]
    assert [r["combination"] for r in rows[20:]] == ["YCD", "YCDW", "YCDWL", "YCDWLI"]
    assert len({r["run"] for r in rows}) == 23
    assert rows[0]["run"] == rows[20]["run"]


@pytest.mark.parametrize("cfg", [TOY, PAPER], ids=["toy", "paper"])
def test_t02_shares_the_convnext_run_with_t01(cfg):
    t02 = P.table_rows(cfg, "t02_architectures")
    assert [r["key"] for r in t02] == ["alexnet", "vgg16", "resnet50", "vit_s", "convnext_t"]
    assert len({r["run"] for r in t02}) == 5
    t01_runs = {r["run"] for r in P.table_rows(cfg, "t01_combinations")}
    assert t02[-1]["run"] in t01_runs


def test_paper_specs_carry_the_paper_recipe():
    spec = P.dsc_runs(PAPER)["yfcc+cc+datacomp__convnext_t__n1000000"]
    assert spec["classes"] == ["Y", "C", "D"]
    r = spec["recipe"]
    assert (r["lr"], r["weight_decay"], r["betas"], r["batch_size"]) == (1e-3, 0.3, [0.9, 0.95], 4096)
    assert r["samples_seen"] == 93_600 * 4096 and r["input_size"] == 224


def test_model_input_size_override():
    spec = P.dsc_runs(TOY)["yfcc+cc+datacomp__alexnet__n400"]
    assert spec["recipe"]["input_size"] == 64 and "input_size" not in spec["model"]


def test_unknown_names_are_named():
    cfg = copy.deepcopy(TOY)
    cfg["dataset_classification"]["t02_architectures"]["models"].append("resnet51")
    with pytest.raises(S.PlanError, match="resnet51"):
        P.dsc_runs(cfg)
    cfg = copy.deepcopy(TOY)
    cfg["dataset_classification"]["t02_architectures"]["datasets"] = ["yfcc", "flickr"]
    with pytest.raises(S.PlanError, match="flickr"):
        P.dsc_runs(cfg)


def test_run_id_changes_with_settings():
    a = S.run_spec(TOY, ["yfcc", "cc", "datacomp"], "convnext_t")
    b = S.run_spec(TOY, ["yfcc", "cc", "datacomp"], "convnext_t", n_train=100)
    assert a["run_id"] != b["run_id"]


def run_tables(cfg):
    return [t for rule in P.RUN_RULES for t in registry.enabled(cfg, rule=rule)]


# The toy t05 runs at its own budget (samples_seen, 8x the others'), so none of its 12 runs is shared
# (at the shared budget its "crop" column, the toy recipe itself, is f04's three ConvNeXt-T runs:
# 63 then, 66 now); and t02, f03, f04, t05, t06 run over 3 seeds: 2 x 33 further runs (t02 5, f03 5,
# f04 6, t05 12, t06 9 - 4 shared: ConvNeXt-T at 1M in t02, f03, f04 and t06, AlexNet at 1M in t02 and f04).
@pytest.mark.parametrize("cfg,n", [(TOY, 66 + 2 * 33), (PAPER, 68)], ids=["toy", "paper"])
def test_all_dsc_runs(cfg, n):
    runs = P.dsc_runs(cfg)
    assert len(runs) == n
    counts = {t: len({r["run"] for r in P.table_rows(cfg, t)}) for t in run_tables(cfg)}
    assert counts == {"t01_combinations": 23, "t02_architectures": 5,
                      "f03_model_size": 5 if cfg is TOY else 9, "f04_train_images": 6,
                      "t05_augmentation": 12, "t06_corruptions": 9,
                      "t07_pseudo_datasets": 8}


def test_preset_equal_to_recipe_is_the_default_run():
    toy = copy.deepcopy(TOY)
    del toy["dataset_classification"]["t05_augmentation"]["samples_seen"]
    rows = P.table_rows(toy, "t05_augmentation")
    crop = {r["paper_size"]: r["run"] for r in rows if r["augmentation"] == "crop"}
    plain = {r["paper_size"]: r["run"] for r in P.table_rows(toy, "f04_train_images")
             if r["model"] == "ConvNeXt-T"}
    assert crop == plain  # same recipe, same run id, one job
    assert all("__aug-" not in r for r in crop.values())
    # in the paper config "crop" differs from the recipe (RandAug, Mixup/CutMix on): its own runs
    assert all("__aug-crop" in r["run"] for r in P.table_rows(PAPER, "t05_augmentation")
               if r["augmentation"] == "crop")


def test_table_budget():
    """t05's own samples_seen: every cell its own run (ss<N> in the id), the warmup scaled with it;
    the config's own budget given there is the shared run."""
    base = TOY["train"]
    rows = P.table_rows(TOY, "t05_augmentation")
    n = TOY["dataset_classification"]["t05_augmentation"]["samples_seen"]
    runs = [spec["run_id"] for r in rows for spec in r["specs"]]
    assert n != base["samples_seen"] and len(runs) == 36 and all(f"__ss{n}" in run for run in runs)
    rec = rows[0]["spec"]["recipe"]
    assert rec["samples_seen"] == n and rec["warmup_samples"] == base["warmup_samples"] * n // base["samples_seen"]
    same = S.run_spec(TOY, ["yfcc", "cc", "datacomp"], "convnext_t", samples_seen=base["samples_seen"])
    assert same == S.run_spec(TOY, ["yfcc", "cc", "datacomp"], "convnext_t")


def test_null_sweep_points_are_left_out():
    cfg = copy.deepcopy(TOY)
    t05 = cfg["dataset_classification"]["t05_augmentation"]
    t05["sizes"]["10K"] = None
    t05["presets"]["crop_randaug"] = None
    rows = P.table_rows(cfg, "t05_augmentation")
    assert len(rows) == 3 * 2
    assert {r["paper_size"] for r in rows} == {"100K", "1M"}
    assert "crop_randaug" not in {r["augmentation"] for r in rows}
    t05["sizes"] = {"10K": None}
    with pytest.raises(S.PlanError, match="null"):
        P.table_rows(cfg, "t05_augmentation")


def test_shared_runs_across_tables():
    runs = {t: {r["run"] for r in P.table_rows(PAPER, t)} for t in run_tables(PAPER)}
    ycd = "yfcc+cc+datacomp__convnext_t__n1000000"
    for t in ("t01_combinations", "t02_architectures", "f03_model_size", "f04_train_images",
              "t05_augmentation"):
        assert ycd in runs[t], t
    assert "yfcc+cc+datacomp__convnext_t__n1000000__corr-blur_3" in runs["t06_corruptions"]
    # t06's "none" row is the plain YCD run
    assert ycd in runs["t06_corruptions"]


def test_pseudo_dataset_views():
    rows = P.table_rows(PAPER, "t07_pseudo_datasets")
    spec = rows[0]["spec"]
    assert [v["part"] for v in spec["views"]] == [0, 1, 2]
    assert {v["dataset"] for v in spec["views"]} == {"yfcc"} and spec["classes"] == ["Y0", "Y1", "Y2"]
    assert S.sample_datasets(spec) == ["yfcc"]
    cfg = copy.deepcopy(PAPER)
    cfg["dataset_classification"]["t07_pseudo_datasets"]["sizes"]["1M"] = 400_000
    with pytest.raises(S.PlanError, match="per part of 3"):
        P.dsc_runs(cfg)


def test_corruption_and_aug_resolved_into_spec():
    spec = S.run_spec(TOY, ["yfcc", "cc", "datacomp"], "convnext_t", aug="no_aug", corruption="blur_3")
    assert spec["corruption"] == {"type": "gaussian_blur", "radius": 0.4}
    assert spec["recipe"]["augment"]["random_crop"] is False and spec["recipe"]["augment"]["mixup"] == 0
    with pytest.raises(S.PlanError, match="fog"):
        S.run_spec(TOY, ["yfcc"], "convnext_t", corruption="fog")


def test_probe_jobs_share_one_forward_pass_per_encoder():
    """t09 on the paper protocol: six encoders, each ONE probe job whose heads are the sweep of
    blocks 8-10 x base lr 0.1-0.3 (MAE's lr = blr x batch / 256); t08: one head per MAE."""
    from vlmbias.dsc import ssl_plan

    runs = ssl_plan.probe_runs(PAPER)
    t09 = [r for r in runs.values() if r["task"]["kind"] == "labeled"]
    assert len(t09) == 6 and len(runs) == 8
    for r in t09:
        assert [(h["layer"], h["blr"]) for h in r["heads"]] == [(l, b) for l in (8, 9, 10) for b in (0.1, 0.2, 0.3)]
        assert [h["lr"] for h in r["heads"][:3]] == pytest.approx([b * 16384 / 256 for b in (0.1, 0.2, 0.3)])
        assert len({h["id"] for h in r["heads"]}) == 9
    assert all(len(r["heads"]) == 1 for r in runs.values() if r["task"]["kind"] == "dsc")
    rows = registry.rows("t09_transfer", TOY)
    assert len({r["run"] for r in rows}) == len(rows) == 6


def test_upsample_and_input_size_exclude_each_other():
    cfg = copy.deepcopy(TOY)
    cfg["models"]["alexnet"]["upsample"] = 64
    with pytest.raises(S.PlanError, match="exclude each other"):
        S.run_spec(cfg, ["yfcc", "cc"], "alexnet")
    from snakemake.utils import validate   # and the schema, for every family's models
    with pytest.raises(Exception, match="upsample and input_size exclude each other"):
        validate(copy.deepcopy(cfg), "config/schema.yaml")
    del cfg["models"]["alexnet"]["input_size"]
    spec = S.run_spec(cfg, ["yfcc", "cc"], "alexnet")
    assert spec["recipe"]["input_size"] == 32 and spec["model"]["upsample"] == 64


def test_t09_budget_of_its_own():
    """t09's samples_seen: its dataset-classification runs (not t02's ViT-S run) at that budget;
    the config's own budget is the shared run."""
    from snakemake.utils import validate

    cfg = copy.deepcopy(TOY)
    shared = {r["dsc_spec"]["run_id"] for r in registry.rows("t09_transfer", cfg) if r["dsc_spec"]}
    cfg["ssl"]["t09_transfer"]["samples_seen"] = 60000
    validate(cfg, "config/schema.yaml")
    specs = [r["dsc_spec"] for r in registry.rows("t09_transfer", cfg) if r["dsc_spec"]]
    assert len(specs) == 4 and all(s["run_id"].endswith("__ss60000") for s in specs)
    assert all(s["recipe"]["samples_seen"] == 60000 for s in specs)
    assert {s["run_id"].removesuffix("__ss60000") for s in specs} == shared
    cfg["ssl"]["t09_transfer"]["samples_seen"] = cfg["train"]["samples_seen"]
    assert {r["dsc_spec"]["run_id"] for r in registry.rows("t09_transfer", cfg) if r["dsc_spec"]} == shared


def test_an_mae_run_overrides_the_shared_pretraining_recipe():
    from snakemake.utils import validate

    from vlmbias.dsc import ssl_plan

    cfg = copy.deepcopy(TOY)
    cfg["ssl"]["mae"]["train"] = {"samples_seen": 4000, "lr": 1.0e-3}
    cfg["ssl"]["mae"]["runs"]["imagenet"]["train"] = {"samples_seen": 60000}
    validate(cfg, "config/schema.yaml")
    runs = ssl_plan.mae_runs(cfg)
    assert runs["imagenet"]["recipe"]["samples_seen"] == 60000 and runs["imagenet"]["recipe"]["lr"] == 1.0e-3
    assert ssl_plan.mae_spec(cfg, "ycd")["recipe"]["samples_seen"] == 4000


def test_a_tables_probe_keys_override_ssl_probe_for_its_jobs_only(monkeypatch):
    from snakemake.utils import validate

    from vlmbias.dsc import ssl_plan

    cfg = copy.deepcopy(TOY)
    cfg["ssl"]["probe"] = {"batch_size": 128, "epochs": 6, "warmup_epochs": 1}
    cfg["ssl"]["t09_transfer"]["probe"] = {"epochs": 64}
    validate(cfg, "config/schema.yaml")
    runs = ssl_plan.probe_runs(cfg)
    t09 = [r for r in runs.values() if r["task"]["kind"] == "labeled"]
    t08 = [r for r in runs.values() if r["task"]["kind"] == "dsc"]
    assert t09 and t08
    n09, n08 = (int(cfg["sampling"]["n_train"]) * k for k in (1, 3))
    assert all(r["recipe"]["samples_seen"] == 64 * n09 for r in t09)
    assert all(r["recipe"]["samples_seen"] == 6 * n08 for r in t08)
    # one probe job for two tables needs one recipe
    row = {"probe_spec": t09[0], "probe_overrides": {"epochs": 64}}
    other = {"probe_spec": ssl_plan.probe_spec(cfg, t09[0]["encoder"], t09[0]["task"],
                                               [(h["layer"], h["blr"]) for h in t09[0]["heads"]]),
             "probe_overrides": None}
    monkeypatch.setattr(ssl_plan, "_rows", lambda config: [row, dict(row)])
    assert list(ssl_plan.probe_runs(cfg)) == [t09[0]["probe_id"]]
    monkeypatch.setattr(ssl_plan, "_rows", lambda config: [row, other])
    with pytest.raises(S.PlanError, match="different probe: keys"):
        ssl_plan.probe_runs(cfg)


def test_seeds_repeat_each_run_and_share_the_first_with_single_seed_tables():
    cfg = copy.deepcopy(TOY)
    cfg["dataset_classification"]["f03_model_size"]["seeds"] = 3
    rows = P.table_rows(cfg, "f03_model_size")
    t = next(r for r in rows if r["key"] == "convnext_t")
    assert t["runs"] == [t["run"], t["run"] + "__seed1", t["run"] + "__seed2"]
    assert [s["seed"] for s in t["specs"]] == [0, 1, 2]
    assert {k: v for k, v in t["specs"][2].items() if k not in ("seed", "run_id")} == \
        {k: v for k, v in t["spec"].items() if k not in ("seed", "run_id")}
    t01 = {r["run"] for r in P.table_rows(cfg, "t01_combinations")}
    assert t["run"] in t01 and all(len(r["runs"]) == 1 for r in P.table_rows(cfg, "t01_combinations"))
    runs = P.dsc_runs(cfg)
    assert t["runs"][2] in runs and runs[t["runs"][2]]["seed"] == 2
    files = P.table_metrics(cfg, "f03_model_size")
    assert len(files) == 3 * len(rows) and len(set(files)) == len(files)
    assert "specs" not in P.param_rows(cfg, "f03_model_size")[0]
    cfg["dataset_classification"]["f03_model_size"]["seeds"] = [0, 0]
    with pytest.raises(Exception, match="f03_model_size.seeds: repeated"):
        P.table_rows(cfg, "f03_model_size")


def test_seeded_table_shows_mean_and_std(tmp_path):
    from types import SimpleNamespace

    from vlmbias.tables.registry import TableJob

    cfg = copy.deepcopy(TOY)
    cfg["dataset_classification"]["t06_corruptions"].update(seeds=2, corruptions=["none", "blur_3"])
    rows = P.param_rows(cfg, "t06_corruptions")
    accs = {rows[0]["runs"][0]: 80.0, rows[0]["runs"][1]: 90.0, rows[1]["runs"][0]: 70.0, rows[1]["runs"][1]: 70.0}
    paths = []
    for run, acc in accs.items():
        m = {"run_id": run, "val_acc": acc, "samples_seen": 10, "n_val": 300,
             "config": {"recipe": {"batch_size": 2, "input_size": 32}}}
        paths.append(str(tmp_path / f"{run}.json"))
        with open(paths[-1], "w") as f:
            json.dump(m, f)
    out = SimpleNamespace(csv=str(tmp_path / "t.csv"), md=str(tmp_path / "t.md"))
    job = TableJob("t06_corruptions", SimpleNamespace(metrics=paths), out, SimpleNamespace(rows=rows), cfg)
    df = registry.write(job)
    assert list(df["reproduced_acc"]) == [85.0, 70.0]
    assert list(df["reproduced_acc_std"]) == [round(50 ** 0.5, 2), 0.0] and list(df["seeds"]) == [2, 2]
    md = open(out.md).read()
    assert "85.0 ± 7.1" in md and "70.0 ± 0.0" in md and "mean ± std over 2 seeds" in md

"""t14's plan (config -> jobs, seeds) and table (mean ± std, reported values, xk marks, findings)."""

import copy
import json

import pandas as pd
import pytest
import yaml

from vlmbias.core.config import ConfigError
from vlmbias.lle import plan
from vlmbias.lle.tables import write_urbancars
from vlmbias.tables.registry import TableJob

CONFIG = yaml.safe_load(open("config/config.yaml"))


def test_every_registry_method_has_a_module_and_a_row():
    import importlib

    reg = plan.registry()
    assert list(reg)[:2] == ["erm", "mixup"] and "lle" in reg and reg["groupdro"].get("group_labels")
    for name, entry in reg.items():
        assert entry["row"] and isinstance(entry.get("params", {}), dict), name
        assert importlib.util.find_spec(f"vlmbias.lle.methods.{entry['module']}") is not None, name


def test_plan_jobs_over_seeds_and_recipe_layers():
    cfg = copy.deepcopy(CONFIG)
    cfg["lle"]["urbancars"].update(methods=["lle", "erm"], seeds=2)
    assert plan.methods(cfg) == ["erm", "lle"]            # registry order
    assert plan.seeds(cfg) == [cfg["seed"], cfg["seed"] + 1]
    assert plan.metrics_paths(cfg)[0] == f"results/lle/urbancars/erm/seed{cfg['seed']}/metrics.json"
    spec = plan.run_spec(cfg, "erm", 1)
    r = spec["recipe"]
    assert r["optimizer"] == "momentum" and r["sched"] == "constant" and r["label_smoothing"] == 0.0
    assert r["augment"]["random_crop"] is False and r["crop_pct"] == 1.0
    assert r["lr"] == cfg["lle"]["urbancars"]["train"]["lr"]   # the section's overrides win
    assert spec["seed"] == 1 and spec["selection"] == "both" and spec["row"] == "ERM"


def test_method_param_overrides():
    cfg = copy.deepcopy(CONFIG)
    cfg["lle"]["urbancars"]["methods"] = {"jtt_e1": {"params": {"up_weight": 20}}, "erm": None}
    assert plan.methods(cfg) == ["erm", "jtt_e1"]
    assert plan.run_spec(cfg, "jtt_e1", 0)["params"] == {"bias_epochs": 1, "up_weight": 20}


@pytest.mark.parametrize("change, match", [
    ({"methods": ["erm", "nope"]}, "unknown"),
    ({"dataset": "missing"}, "missing"),
    ({"model": "missing"}, "lle.urbancars.model"),
    ({"selection": "worst"}, "selection"),
    ({"seeds": 0}, "seeds"),
])
def test_bad_config_names_the_key(change, match):
    cfg = copy.deepcopy(CONFIG)
    cfg["lle"]["urbancars"].update(change)
    with pytest.raises(ConfigError, match=match):
        plan.check(cfg)


def _run(tmp_path, method, row, seed, id_acc, bg, co, both, epoch=3, ensemble=None):
    test = {"id_acc": id_acc, "bg_gap": bg, "coobj_gap": co, "both_gap": both}
    if ensemble:
        test["ensemble"] = ensemble
    m = {"method": method, "row": row, "seed": seed, "test": test, "info": {"shifts": ["original", "bg_aug"]},
         "selection": {"rule": "val_both_worst_group_acc", "epoch": epoch, "val": 50.0, "epochs": 10},
         "config": {"selection": "both", "bg_ratio": 0.95, "coobj_ratio": 0.95}}
    p = tmp_path / f"{method}_{seed}.json"
    p.write_text(json.dumps(m))
    return str(p)


def test_t14_table_mean_std_reported_marks_and_findings(tmp_path):
    runs = [_run(tmp_path, "erm", "ERM", 0, 98, -20, -10, -60), _run(tmp_path, "erm", "ERM", 1, 96, -22, -12, -64),
            _run(tmp_path, "cutmix", "CutMix", 0, 97, -40, -5, -80), _run(tmp_path, "cutmix", "CutMix", 1, 97, -44, -5, -84),
            _run(tmp_path, "lle", "LLE (ours)", 0, 95, -3, -2, -6, epoch=8, ensemble=_parts(-10, 0.6)),
            _run(tmp_path, "lle", "LLE (ours)", 1, 95, -5, -4, -8, epoch=9, ensemble=_parts(-20, 0.8))]
    out = {"csv": str(tmp_path / "t.csv"), "md": str(tmp_path / "t.md")}
    job = TableJob("t14_lle_urbancars", {"runs": runs}, type("O", (), out), {}, CONFIG)
    job.input = type("I", (), {"runs": runs})
    df = write_urbancars(job)
    assert list(df["method"]) == ["erm", "cutmix", "lle"]
    erm = df.iloc[0]
    assert erm["id_acc"] == 97 and erm["id_acc_std"] == pytest.approx(2 ** 0.5) and erm["seeds"] == 2
    assert erm["both_gap_reported"] == -69.2
    cut = df.iloc[1]
    assert cut["bg_gap_x"] == pytest.approx(2.0) and cut["coobj_gap_x"] is None   # -42 / -21
    assert df.iloc[2]["epoch"] == 8.5
    md = open(out["md"]).read()
    assert "97.0 ± 1.4" in md and "(×2.00)" in md
    assert "Whac-A-Mole (narrows one gap, widens the other, against ERM): CutMix" in md
    assert "LLE against ERM: narrows all three gaps" in md
    assert len(pd.read_csv(out["csv"])) == 3
    # LLE's parts, mean over its two seeds: head 0's BG gap (-10, -20) -> -15.0; weight 0.6, 0.8 -> 0.70
    assert "LLE's parts (test set, selected epoch, mean of 2 seeds)" in md
    assert "original -15.0 / -1.0 / -2.0; bg_aug 1.0 / -1.0 / -2.0" in md
    assert "BG-conflicting images 0.30 / 0.70" in md


def _parts(head0_bg, w_bg):
    heads = [{"id_acc": 95, "bg_gap": head0_bg, "coobj_gap": -1, "both_gap": -2},
             {"id_acc": 90, "bg_gap": 1, "coobj_gap": -1, "both_gap": -2}]
    weights = {g: [0.5, 0.5] for g in ("aligned", "coobj_conflicting", "both_conflicting")}
    weights["bg_conflicting"] = [1 - w_bg, w_bg]
    return {"heads": heads, "shift_weights": weights}


# ---------------------------------------------------------------------------- t15

def test_t15_plan_backbones_methods_seeds_and_recipe():
    cfg = copy.deepcopy(CONFIG)
    paths = plan.imagenet_metrics_paths(cfg)
    assert "results/lle/imagenet/resnet50/as_is/seed0/metrics.json" in paths
    assert not any("as_is/seed1" in p for p in paths)          # nothing trained: one seed
    assert sum("/lle/seed" in p for p in paths) == 3
    assert plan.imagenet_backbone_weights(cfg, "resnet50") == ["results/lle/imagenet/resnet50/backbone/model.pt"]
    spec = plan.imagenet_run_spec(cfg, "resnet50", "lle", 2)
    assert spec["method_def"] == {"blocks": ["original", "texture", "background", "watermark"],
                                  "heads": [0, 1, 2, 3], "watermark_p": 1.0}
    r = spec["recipe"]
    assert (r["optimizer"], r["sched"], r["momentum"], r["lr"], r["input_size"]) == ("momentum", "cosine", 0.9, 0.01, 64)
    assert spec["sets"]["val_mixed_rand"]["split"] == "val_mixed_rand" and spec["carton"] == 10
    bb = plan.imagenet_backbone_spec(cfg, "resnet50")
    assert bb["recipe"]["optimizer"] == "adamw" and bb["recipe"]["samples_seen"] == 33600
    cfg["lle"]["imagenet"]["method_train"] = {"txt_aug": {"lr": 1e-4}}
    assert plan.imagenet_run_spec(cfg, "resnet50", "txt_aug", 0)["recipe"]["lr"] == 1e-4
    assert plan.imagenet_embeddings(cfg, "toy_vit")["val_w"] == \
        "results/embeddings/toy_vit/imagenet_shortcuts/val@imagenet_w.npz"


@pytest.mark.parametrize("change,match", [
    ({"carton": 11}, "carton"), ({"backbones": {"b": {"model": "nope"}}}, "nope"),
    ({"methods": ["erm", "mixup"]}, "mixup"), ({"clip": ["nope"]}, "clip"),
    ({"sets": {"val": {"dataset": "nope", "split": "val"}}}, "nope")])
def test_t15_bad_config_names_the_key(change, match):
    cfg = copy.deepcopy(CONFIG)
    cfg["lle"]["imagenet"].update(change)
    with pytest.raises(ConfigError, match=match):
        plan.check(cfg)


def _in_run(tmp_path, method, row, seed, cols, backbone="resnet50"):
    keys = ("in1k", "in_w_gap", "carton_gap", "sin_gap", "in_r_gap", "in9_gap")
    m = {"backbone": backbone, "method": method, "row": row, "seed": seed,
         "test": {**dict(zip(keys, cols)), "carton_acc": 60.0, "n": {"val": 10}},
         "config": {"input_size": 64, "carton": 10}}
    p = tmp_path / f"in_{method}_{seed}.json"
    p.write_text(json.dumps(m))
    return str(p)


def test_t15_table_mean_std_reported_and_findings(tmp_path):
    from vlmbias.lle.tables import write_imagenet

    runs = [_in_run(tmp_path, "erm", "ERM", 0, (90, -10, 8, -70, -60, -12)),
            _in_run(tmp_path, "erm", "ERM", 1, (92, -12, 12, -72, -62, -14)),
            _in_run(tmp_path, "wtm_aug", "WTM Aug", 0, (91, -1, 0, -71, -61, -13)),
            _in_run(tmp_path, "lle", "LLE", 0, (91, -2, 4, -60, -55, -8))]
    clip = tmp_path / "clip.json"
    clip.write_text(json.dumps({"clip": "toy_vit", "open_clip": "vlmbias-toy-vit",
                                "test": {"in1k": 80, "in_w_gap": -3, "carton_gap": 0, "sin_gap": -50, "in_r_gap": -8,
                                         "in9_gap": -4, "carton_acc": 0.0}}))
    out = {"csv": str(tmp_path / "t.csv"), "md": str(tmp_path / "t.md")}
    job = TableJob("t15_lle_imagenet", {}, type("O", (), out), {}, CONFIG)
    job.input = type("I", (), {"runs": runs, "clip": [str(clip)]})
    df = write_imagenet(job).set_index("key")
    assert list(df.index) == ["resnet50/erm", "resnet50/wtm_aug", "resnet50/lle", "clip/toy_vit"]
    erm = df.loc["resnet50/erm"]
    assert erm["in_w_gap"] == -11 and erm["in_w_gap_std"] == pytest.approx(2 ** 0.5) and erm["seeds"] == 2
    assert erm["in_w_gap_reported"] == -25.40 and df.loc["clip/toy_vit", "in_r_gap_reported"] == -6.26
    md = open(out["md"]).read()
    assert "-11.0 ± 1.4" in md
    assert "WTM Aug against ERM (+ = narrower): its own in_w_gap +10.0, carton_gap +10.0" in md
    assert "LLE against ERM: narrows 5 of 5 gaps" in md
    assert "CLIP zero-shot (toy_vit) 0%" in md

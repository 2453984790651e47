"""The GPU check's parts (vlmbias.train.throughput) and the check itself in its CPU tiny mode
(`python -m vlmbias.bench gpu --cpu --tiny`), which runs every part on toy sizes."""

import json

import pytest
import timm
import torch

from vlmbias import bench
from vlmbias.train import throughput as T


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H200", 989e12), ("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H100 PCIe", 756e12),
    ("NVIDIA H100 NVL", 835e12), ("NVIDIA A100-SXM4-80GB", 312e12), ("NVIDIA A100 80GB PCIe", 312e12),
    ("NVIDIA L40S", 362e12), ("NVIDIA L40", 181e12), ("NVIDIA L4", 121e12), ("NVIDIA A10", 125e12),
    ("Tesla V100-SXM2-16GB", None), ("cpu", None)])
def test_peak_by_device_name(name, peak):
    assert T.peak_bf16_flops(name) == peak


def test_mfu():
    assert T.mfu(3 * 4e9, 1000.0, 989e12) == pytest.approx(12e12 / 989e12)
    assert T.mfu(3 * 4e9, 1000.0, None) is None


def test_forward_flops_of_convnext_tiny_match_timms_published_macs():
    # timm's model card: convnext_tiny at 224 px, 4.47 GMACs = 8.94 GFLOPs (2 per multiply-add)
    model = timm.create_model("convnext_tiny")
    flops = T.forward_flops(model, 224, torch.device("cpu"))
    assert flops == pytest.approx(8.94e9, rel=0.01)
    assert model.training  # left in the mode it was in


def test_timm_command_and_result_parsing(tmp_path):
    cmd = T.timm_command("convnext_tiny", 256, 224, 10, 40)
    assert " ".join(cmd) == ("python benchmark.py --model convnext_tiny --bench train --amp --amp-dtype bfloat16 "
                             "--channels-last -b 256 --img-size 224 --opt adamw --num-warm-iter 10 "
                             "--num-bench-iter 40")
    # a stand-in for timm's script: what it prints last (its `--result` JSON) and its arguments
    script = tmp_path / "benchmark.py"
    script.write_text("import json, sys\nprint('log line')\n"
                      "print('--result\\n' + json.dumps({'model': sys.argv[2], 'train_samples_per_sec': 123.4, "
                      "'argv': sys.argv[1:]}, indent=4))\n")
    res = T.run_timm_script(str(script), "convnext_tiny", 8, 32, 1, 2)
    assert res["train_samples_per_sec"] == 123.4
    assert res["argv"] == T.timm_command("convnext_tiny", 8, 32, 1, 2)[2:]  # the script ran with those arguments
    with pytest.raises(ValueError, match="--result"):
        T.parse_timm_result("no result here")
    with pytest.raises(FileNotFoundError, match="nowhere.py"):
        T.run_timm_script(str(tmp_path / "nowhere.py"), "convnext_tiny", 8, 32, 1, 2)


def test_synthetic_images_cycle_a_fixed_pool():
    ds = T.SyntheticImages(10, 8, 3, pool=4)
    assert len(ds) == 10 and torch.equal(ds[1][0], ds[5][0]) and not torch.equal(ds[0][0], ds[1][0])
    assert [ds[i][1] for i in range(4)] == [0, 1, 2, 0]


def test_fit_row_clocks_fit_without_changing_it(tmp_path):
    # the stopwatch objective is the recipe's objective: fit trains to the same weights with it
    from vlmbias.train.loop import fit
    from vlmbias.train.models import build_model
    from vlmbias.gpucheck import TINY, paper_training
    spec, recipe = paper_training()
    spec["kwargs"] = TINY["model_kwargs"]
    cpu = torch.device("cpu")
    r = T.bench_recipe(recipe, 4, 4, 32)
    weights = []
    for i, objective in enumerate((None, T._Stopwatch(r, 3, cpu, at=(1, 3)))):
        torch.manual_seed(0)
        model = build_model(spec, 3, 32)
        fit(model, T.SyntheticImages(16, 32, 3), 3, r, seed=0, checkpoint_path=str(tmp_path / f"c{i}.pt"),
            run_hash="x", device=cpu, progress=False, log=lambda m: None, objective=objective)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
    assert objective.calls == 4 and len(objective.times) == 2 and objective.times[1] > objective.times[0]
    torch.manual_seed(0)
    row = T.time_fit(build_model(spec, 3, 32), recipe, 3, cpu, 4, 32, 1, 2, 0)
    assert row["img_s"] > 0 and row["ms_step"] > 0


def test_tiny_cpu_check_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    out = tmp_path / "check.json"
    bench.main(["gpu", "--cpu", "--tiny", "--threads", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    r = json.loads(out.read_text())
    assert r["errors"] == {} and r["ran_on_gpu"] is False and r["peak_bf16_flops"] is None
    s = r["setting"]
    assert (s["arch"], s["input_size"], s["batch_size"]) == ("convnext_tiny", 32, 4)
    # the FLOPs are those of the model the rows trained: the paper's ConvNeXt-T spec at the tiny widths
    from vlmbias.gpucheck import paper_training
    from vlmbias.train.models import build_model
    spec, _ = paper_training()
    spec["kwargs"] = s["model_kwargs"]
    assert r["forward_flops_per_image"] == T.forward_flops(build_model(spec, 3, 32), 32, torch.device("cpu")) > 0
    assert r["train_flops_per_image"] == 3 * r["forward_flops_per_image"]
    assert set(r["train"]) == {"project_step", "project_fit", "timm_reference"}
    for row in r["train"].values():
        assert row["img_s"] > 0 and row["ms_step"] > 0 and row["mfu"] is None  # no peak on a CPU
    assert r["train"]["timm_reference"]["num_classes"] == 1000  # timm's script's model, its default head
    assert "--amp-dtype bfloat16 --channels-last -b 4 --img-size 32" in r["timm_command"]
    d = r["decomposition"]
    assert d["model"].startswith("toy") and d["ours_img_s"] > 0 and d["forward_img_s"] > 0
    sl = r["slots"]
    assert sl["fake"] and sl["pool"] == ["0", "1"]
    assert sorted(j["cuda_visible_devices"] for j in sl["jobs"]) == ["0", "1"]
    assert sl["distinct"] and sl["extra_refused"]
    for line in ("GPU check on", "project step", "project fit()", "timm benchmark.py's way", "project/timm:",
                 "python benchmark.py --model convnext_tiny", "TextSpan decomposition, toy",
                 "distinct devices: yes; one job more refused while all are held: yes"):
        assert line in printed, line


def test_check_needs_a_gpu_without_cpu_flag(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="--cpu --tiny"):
        bench.main(["gpu", "--tiny"])


def test_a_failing_part_is_reported_and_the_others_still_run(tmp_path, capsys, monkeypatch):
    from vlmbias import gpucheck

    def no_shm(*args, **kwargs):
        raise RuntimeError("DataLoader worker is killed by signal: Bus error (/dev/shm too small)")

    def no_slots(*args, **kwargs):
        raise RuntimeError("GPU slot check: no GPU in the pool")

    monkeypatch.setattr(T, "time_fit", no_shm)
    monkeypatch.setattr(gpucheck, "check_slots", no_slots)
    out = tmp_path / "check.json"
    with pytest.raises(SystemExit, match="2 part\\(s\\) failed: slots, project_fit"):
        bench.main(["gpu", "--cpu", "--tiny", "--threads", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    r = json.loads(out.read_text())  # written before the exit
    assert set(r["train"]) == {"project_step", "timm_reference"} and r["slots"] is None
    assert r["decomposition"]["ours_img_s"] > 0
    assert "FAILED project_fit: RuntimeError: DataLoader worker is killed" in printed
    assert "FAILED slots: RuntimeError: GPU slot check" in printed
    assert "project/timm: step x" in printed and "fit x" not in printed


@pytest.mark.parametrize("args, culprit", [(["--batch-size", "5"], "--batch-size 5"), (["--steps", "0"], "--steps 0")])
def test_bad_arguments_are_named_before_any_work(args, culprit):
    with pytest.raises(SystemExit, match=culprit):
        bench.main(["gpu", "--cpu", "--tiny", *args])

"""The prepared GPU check: ``python -m vlmbias.bench gpu [--out check.json]``.

Short and self-contained (no data, no weights, no workflow; a couple of minutes on one GPU):

1. **Training throughput and MFU of ConvNeXt-T** (config/paper.yaml's ``convnext_t`` spec and
   ``train`` recipe, 3 classes as dataset classification trains it) at 224 px, batch 256, bf16
   autocast, channels_last (``vlmbias.train.throughput``): the project's optimizer step on a batch
   already on the GPU, the project's ``fit`` itself on in-memory synthetic images (its DataLoader
   with ``--workers`` workers, every step's own cost included), and timm's ``benchmark.py --bench
   train`` measurement done the way that script does it on ``timm.create_model('convnext_tiny')``
   (optimizer ``--timm-opt``, AdamW by default as the recipe's, timm's own default being SGD), with
   the ratio; ``--timm-script PATH/benchmark.py`` runs timm's script itself too, and its exact
   command line is printed either way. MFU = 3 x forward FLOPs per image x images/s / the device's
   peak dense bf16 FLOP/s (``PEAK_BF16_FLOPS``; a device not in the table is reported without MFU).
2. **The TextSpan decomposition's images/s for ViT-B-16** (random init, 224 px, fp32 as rule
   textspan_decompose runs it) and the plain forward's, by ``vlmbias.textspan.bench.bench_model``.
3. **The workstation GPU slots on the real devices** (``vlmbias.core.gpu_check``): one concurrent
   dummy job per GPU through ``gpu.assign``, the device (name, UUID) each got, that no two share
   one, and that one job more is refused.

It prints a compact table and, with ``--out``, writes the same figures as JSON.
``--cpu --tiny`` runs every part on CPU at toy sizes (a ConvNeXt of the same code at 32 px and
width 8, the toy CLIP, two fake devices for the slots) in seconds: what the unit test runs, so
the check is known to work before it meets a GPU.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time

import timm
import torch
import yaml

from vlmbias.core.gpu_check import check_slots
from vlmbias.textspan.bench import bench_model
from vlmbias.train import throughput as T
from vlmbias.train.models import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_CLASSES = 3  # dataset classification's three-way task (t02: YFCC, CC, DataComp)

FULL = {"input_size": 224, "batch_size": 256, "warmup": 10, "steps": 40, "workers": min(8, os.cpu_count() or 1),
        "clip": "ViT-B-16", "clip_batch": 64, "clip_batches": 10, "model_kwargs": {}}
# the same code at toy sizes: a width-8, one-block-per-stage ConvNeXt at 32 px, the toy CLIP
TINY = {"input_size": 32, "batch_size": 4, "warmup": 1, "steps": 2, "workers": 0, "clip": "toy", "clip_batch": 2,
        "clip_batches": 1, "model_kwargs": {"dims": [8, 16, 32, 64], "depths": [1, 1, 1, 1]}}


def paper_training() -> tuple[dict, dict]:
    """(ConvNeXt-T model spec, training recipe) of config/paper.yaml."""
    with open(os.path.join(ROOT, "config", "paper.yaml")) as f:
        paper = yaml.safe_load(f)
    return dict(paper["models"]["convnext_t"]), dict(paper["train"])


def run_check(cpu: bool = False, tiny: bool = False, timm_script: str | None = None, timm_opt: str = "adamw",
              fake_devices: int = 2, threads: int | None = None, **overrides) -> dict:
    """Every part of the check (see the module doc); returns the figures."""
    if threads:
        torch.set_num_threads(threads)
    s = copy.deepcopy(TINY if tiny else FULL)
    s.update({k: v for k, v in overrides.items() if v is not None})
    if s["batch_size"] < 2 or s["batch_size"] % 2:
        raise SystemExit(f"GPU check: --batch-size {s['batch_size']}: must be even (the recipe's Mixup/CutMix "
                         "mixes each image with its mirror in the batch)")
    if s["steps"] < 1 or s["warmup"] < 0:
        raise SystemExit(f"GPU check: --steps {s['steps']} / --warmup {s['warmup']}: need steps >= 1, warmup >= 0")
    if not cpu and not torch.cuda.is_available():
        raise SystemExit("GPU check: no CUDA device here; `--cpu --tiny` runs the same check on CPU at toy sizes")
    t_start = time.perf_counter()
    device = torch.device("cpu" if cpu else "cuda")
    errors: dict[str, str] = {}

    def attempt(part: str, fn, *args, **kwargs):
        """A part that fails (out of memory, /dev/shm too small for the loader...) is reported, and
        the other parts still run."""
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - reported in the table and the JSON, exit status 1
            errors[part] = f"{type(e).__name__}: {e}"
            if device.type == "cuda":
                torch.cuda.empty_cache()
            return None

    # slots first: the dummy jobs find the devices before this process initialises CUDA
    slots = attempt("slots", check_slots, fake_devices=fake_devices if cpu else None)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu")
    peak = T.peak_bf16_flops(name) if device.type == "cuda" else None

    spec, recipe = paper_training()
    spec["kwargs"] = {**(spec.get("kwargs") or {}), **s["model_kwargs"]}
    size, batch, warm, steps = s["input_size"], s["batch_size"], s["warmup"], s["steps"]

    def make_model():
        torch.manual_seed(0)
        return build_model(spec, NUM_CLASSES, size)

    fwd = T.forward_flops(make_model().to(device), size, device)
    rows = {"project_step": attempt("project_step", T.time_step, make_model(), recipe, NUM_CLASSES, device, batch,
                                    size, warm, steps)}
    rows["project_fit"] = attempt("project_fit", T.time_fit, make_model(), recipe, NUM_CLASSES, device, batch, size,
                                  warm, steps, s["workers"])
    rows["timm_reference"] = attempt("timm_reference", T.time_timm_reference, spec["arch"], device, batch, size,
                                     warm, steps, timm_opt, s["model_kwargs"])
    cmd = T.timm_command(spec["arch"], batch, size, warm, steps, timm_opt)
    if timm_script:
        res = attempt("timm_script", T.run_timm_script, timm_script, spec["arch"], batch, size, warm, steps,
                      timm_opt)
        rows["timm_script"] = res and {"img_s": float(res["train_samples_per_sec"]),
                                       "ms_step": float(res.get("train_step_time", "nan")), "result": res}
    rows = {k: v for k, v in rows.items() if v is not None}
    timm_fwd = rows["timm_reference"]["forward_flops"] if "timm_reference" in rows else fwd
    for key, r in rows.items():
        r["mfu"] = T.mfu(3 * (timm_fwd if key.startswith("timm") else fwd), r["img_s"], peak)

    dec = attempt("decomposition", bench_model, s["clip"], s["clip_batches"], s["clip_batch"], str(device),
                  reference=False, reference_limit_mb=0.0)
    return {"ran_on_gpu": device.type == "cuda", "device": name, "torch": torch.__version__,
            "timm": timm.__version__, "peak_bf16_flops": peak,
            "setting": {**s, "arch": spec["arch"], "num_classes": NUM_CLASSES, "timm_opt": timm_opt},
            "forward_flops_per_image": fwd, "train_flops_per_image": 3 * fwd, "train": rows,
            "timm_command": " ".join(cmd), "decomposition": dec, "slots": slots, "errors": errors,
            "wall_s": time.perf_counter() - t_start}


def format_report(r: dict) -> str:
    s = r["setting"]
    peak = f"peak dense bf16 {r['peak_bf16_flops'] / 1e12:.0f} TFLOP/s" if r["peak_bf16_flops"] else \
        "peak FLOP/s unknown for this device: no MFU (add it to vlmbias.train.throughput.PEAK_BF16_FLOPS)"
    prec = "bf16 autocast" if r["ran_on_gpu"] else "fp32 (CPU)"
    lines = [f"GPU check on {r['device']} ({'CUDA' if r['ran_on_gpu'] else 'CPU'}), torch {r['torch']}, "
             f"timm {r['timm']}; {peak}",
             f"{s['arch']} {s['input_size']} px, batch {s['batch_size']}, {prec}, channels_last; "
             f"{r['train_flops_per_image'] / 1e9:.3g} GFLOP/image trained "
             f"(3 x {r['forward_flops_per_image'] / 1e9:.3g} forward); "
             f"{s['warmup']} warm-up + {s['steps']} timed steps",
             f"  {'training':46s} {'img/s':>9s} {'ms/step':>9s} {'MFU':>6s}"]
    n_cls = r["train"].get("timm_reference", {}).get("num_classes", "?")
    labels = {"project_step": "project step (batch on device)",
              "project_fit": f"project fit() (synthetic data, {s['workers']} workers)",
              "timm_reference": f"timm benchmark.py's way ({s['timm_opt']}, {n_cls} classes)",
              "timm_script": "timm benchmark.py itself"}
    for key, row in r["train"].items():
        m = "-" if row["mfu"] is None else f"{100 * row['mfu']:.1f}%"
        lines.append(f"  {labels[key]:46s} {row['img_s']:9.1f} {row['ms_step']:9.1f} {m:>6s}")
    ref = r["train"].get("timm_script") or r["train"].get("timm_reference")
    if ref:
        lines.append("  project/timm: " + ", ".join(f"{k.split('_')[1]} x{r['train'][k]['img_s'] / ref['img_s']:.2f}"
                                                    for k in ("project_step", "project_fit") if k in r["train"]))
    lines.append(f"  timm's own script, from a timm checkout: {r['timm_command']}")
    d = r["decomposition"]
    if d:
        lines.append(f"TextSpan decomposition, {d['model']} random init, {d['image_size']} px, "
                     f"batch {d['batch_size']}, fp32: {d['ours_img_s']:.1f} img/s "
                     f"(plain forward {d['forward_img_s']:.1f} img/s)")
    sl = r["slots"]
    if sl:
        lines.append(f"GPU slots ({'fake devices, no CUDA' if sl['fake'] else 'real devices'}), pool {sl['pool']}: "
                     f"{len(sl['jobs'])} concurrent jobs")
        for i, j in enumerate(sl["jobs"]):
            where = f"{j['name']} {j['uuid']}, sees {j['visible']} device(s)" if j["name"] else "no CUDA"
            lines.append(f"  job {i}: CUDA_VISIBLE_DEVICES={j['cuda_visible_devices']!r} -> {where}")
        lines.append(f"  distinct devices: {'yes' if sl['distinct'] else 'NO'}; one job more refused while all "
                     f"are held: {'yes' if sl['extra_refused'] else 'NO'}")
    for part, err in r["errors"].items():
        lines.append(f"FAILED {part}: {err}")
    lines.append(f"wall time of the check: {r['wall_s']:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m vlmbias.bench gpu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", action="store_true", help="run on CPU (fp32) with fake devices for the slot check")
    ap.add_argument("--tiny", action="store_true", help="toy sizes: seconds on a CPU")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--img-size", type=int, dest="input_size")
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--workers", type=int, help="DataLoader workers of the fit() row")
    ap.add_argument("--clip", help="open_clip architecture of the decomposition (default ViT-B-16; 'toy')")
    ap.add_argument("--clip-batch", type=int)
    ap.add_argument("--timm-opt", default="adamw", help="optimizer of the timm rows (timm's script defaults to sgd)")
    ap.add_argument("--timm-script", help="path to benchmark.py of a timm checkout: run it too")
    ap.add_argument("--fake-gpus", type=int, default=2, help="devices faked for the slot check with --cpu")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", help="write the figures as JSON here")
    a = ap.parse_args(argv)
    r = run_check(cpu=a.cpu, tiny=a.tiny, timm_script=a.timm_script, timm_opt=a.timm_opt, fake_devices=a.fake_gpus,
                  threads=a.threads, batch_size=a.batch_size, input_size=a.input_size, warmup=a.warmup, steps=a.steps,
                  workers=a.workers, clip=a.clip, clip_batch=a.clip_batch)
    print(format_report(r))
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(r, f, indent=1, default=str)
    if r["errors"]:
        raise SystemExit(f"GPU check: {len(r['errors'])} part(s) failed: {', '.join(r['errors'])}")
    return r


if __name__ == "__main__":
    main()

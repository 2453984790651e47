"""Benchmark (not a test): one probe job whose heads share the frozen forward pass, against one
job per (layer, base lr) as before, on random images.

    python -m vlmbias.dsc.bench_probe [--model toy|vit_b] [--layers 2,3] [--blrs 10,30]
                                      [--images 512] [--epochs 2] [--device auto]

``toy``: the toy config's ViT-S (96-d, 4 blocks, 4-px patches, 32 px); ``vit_b``: ViT-B/16 at
224 px (the paper's t09 encoder: layers 8,9,10 x blr 0.1,0.2,0.3). Prints the wall time of the
shared job and of the separate jobs, their ratio, and checks that every head ends where its
separate run ends.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import timm
import torch
from torch.utils.data import TensorDataset

from vlmbias.core.device import pick_device
from vlmbias.dsc.probe import LinearProbe, ProbeLoss
from vlmbias.dsc.ssl_recipes import probe_lr, probe_recipe_defaults
from vlmbias.train.loop import fit

MODELS = {
    "toy": (dict(model_name="vit_small_patch16_224", img_size=32, patch_size=4, embed_dim=96, depth=4,
                 num_heads=3), 32),
    "vit_b": (dict(model_name="vit_base_patch16_224"), 224),
}


def _train(encoder_kwargs, size, sweep, data, recipe, device, tmp) -> tuple[float, LinearProbe]:
    torch.manual_seed(0)
    encoder = timm.create_model(pretrained=False, num_classes=10, **encoder_kwargs)
    probe = LinearProbe(encoder, 10, sweep=sweep)
    t0 = time.perf_counter()
    fit(probe, data, 10, recipe, seed=0, checkpoint_path=f"{tmp}/ck{len(sweep)}{time.time_ns()}.pt",
        run_hash="bench", device=device, progress=False, log=lambda *_: None, objective=ProbeLoss(recipe, 10))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, probe


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m vlmbias.dsc.bench_probe")
    ap.add_argument("--model", choices=sorted(MODELS), default="toy")
    ap.add_argument("--layers", default="2,3")
    ap.add_argument("--blrs", default="10,30")
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args(argv)
    kwargs, size = MODELS[a.model]
    device = pick_device(a.device)
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(a.images, 3, size, size, generator=g), torch.randint(0, 10, (a.images,), generator=g))
    recipe = probe_recipe_defaults(a.images, batch_size=a.batch, micro_batch_size=None, epochs=a.epochs,
                                   warmup_epochs=1, input_size=size)
    sweep = [(int(layer), probe_lr(float(blr), a.batch)) for layer in a.layers.split(",") for blr in a.blrs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        shared_s, shared = _train(kwargs, size, sweep, data, recipe, device, tmp)
        alone_s, same = 0.0, True
        for i, head in enumerate(sweep):
            s, alone = _train(kwargs, size, [head], data, dict(recipe, lr=head[1]), device, tmp)
            alone_s += s
            same &= torch.allclose(alone.head[1].weight, shared.heads[i][1].weight, atol=1e-5)
    print(f"{a.model} on {device}: {len(sweep)} heads (layers {a.layers} x blr {a.blrs}), {a.images} images "
          f"x {a.epochs} epochs, batch {a.batch}")
    print(f"  one shared job:     {shared_s:8.2f} s")
    print(f"  {len(sweep)} separate jobs:    {alone_s:8.2f} s")
    print(f"  ratio separate/shared: {alone_s / shared_s:.2f}x; every head equal to its separate run: {same}")


if __name__ == "__main__":
    main()

"""Benchmark of the decomposition (not a test): images/s and bytes stored per image, against the
reference design's cost (the official code's 'head' mode forms a [B, N, N, H, d] tensor in
every layer, for every query token, and stores heads [L, H, d'] + MLPs + CLS terms in fp32).

    python -m vlmbias.textspan.bench [--batches 3] [--batch-size 2] [--threads 1] [--device cpu]
                                      [--models toy,ViT-B-16] [--no-reference]

Models: ``toy`` (the project's toy open_clip config, vlmbias-toy-vit) and any open_clip
architecture name, randomly initialised (ViT-B-16 at 224 px by default). For each: our pass
(hooks, CLS row only, LN/proj folded, streaming stats for the last 4 layers), the size of the
reference's per-layer tensor, its FLOPs vs ours, and -- for models where it fits (N*N*H*d per
image below ``--reference-limit`` MB) -- the measured time of the reference per-layer
computation, with the ratio.
"""

from __future__ import annotations

import argparse
import time

import open_clip
import torch

from vlmbias.clip import load  # noqa: F401 - registers the toy open_clip configs
from vlmbias.textspan import decompose as D


def _model(name: str):
    arch = "vlmbias-toy-vit" if name == "toy" else name
    torch.manual_seed(0)
    return arch, open_clip.create_model(arch, pretrained=None).eval()


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats


def bench_model(name: str, batches: int, batch_size: int, device: str, reference: bool,
                reference_limit_mb: float) -> dict:
    arch, model = _model(name)
    model = model.to(device)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    x = torch.randn(batch_size, 3, size, size, device=device)
    dec = D.Decomposer(model)
    fold = dec.fold.to(device=device)
    last = list(range(max(0, fold.layers - 4), fold.layers))

    def ours():
        stats = D.Stats.for_fold(fold, last)
        store = D.Store(torch.float16)
        with torch.no_grad():
            b = dec(x)
            heads = D.phi_heads(b.heads, b.mu, b.sigma, b.norm, fold)
            mlps = D.phi_mlps(b.mlps, b.mu, b.sigma, b.norm, fold)
            stats.update(heads, mlps, b.embedding)
            store.add(b, mlps)

    def forward_only():
        with torch.no_grad():
            model.encode_image(x)

    t_ours = _time(ours, batches)
    t_fwd = _time(forward_only, batches)
    ref = D.reference_bytes_per_image(fold)
    N, H, d, dh, L, Dp = fold.n_tokens, fold.heads, fold.width, fold.head_dim, fold.layers, fold.out_dim
    # per image and layer, on top of the model's forward: the reference weights V by every query's
    # attention and maps every (query, source, head) cell through W_O; ours recomputes q_cls, K, V
    # from the ln_1 output, the CLS row's scores and weighted sum, and folds the heads (d -> d')
    flops_ref_layer = 2 * N * N * H * dh + 2 * N * N * H * dh * d
    flops_ours_layer = 2 * d * d + 4 * N * d * d + 4 * N * H * dh + 2 * H * dh * Dp
    out = {"model": f"{name} ({arch})", "image_size": size, "tokens": N, "layers": L, "heads": H, "width": d,
           "out_dim": Dp, "batch_size": batch_size, "ours_img_s": batch_size / t_ours,
           "forward_img_s": batch_size / t_fwd, "ours_bytes_per_image": D.Store.bytes_per_image(fold),
           "ref_stored_bytes_per_image": ref["stored"], "ref_tensor_bytes_per_layer": ref["transient_per_layer"],
           "flops_ratio_per_layer": flops_ref_layer / flops_ours_layer}
    if reference and ref["transient_per_layer"] * batch_size / 2 ** 20 <= reference_limit_mb:
        blocks = model.visual.transformer.resblocks
        zs = []
        hooks = [b.ln_1.register_forward_hook(lambda m, i, o: zs.append(o)) for b in blocks]
        with torch.no_grad():
            model.encode_image(x)
        for h in hooks:
            h.remove()

        def reference_pass():
            with torch.no_grad():
                for blk, z in zip(blocks, zs):
                    D.reference_layer_terms(blk, z)[:, 0].sum(1)  # form [B,N,N,H,d], keep the CLS row

        t_ref = _time(reference_pass, batches)
        out["ref_img_s"] = batch_size / (t_ref + t_fwd)  # the reference also runs the forward
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="toy,ViT-B-16")
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--no-reference", action="store_true", help="do not time the reference computation")
    ap.add_argument("--reference-limit", type=float, default=512.0,
                    help="time the reference only when its per-layer tensor for the batch is below this (MB)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(f"device {a.device}, {a.threads} thread(s), batch {a.batch_size}, {a.batches} timed batches")
    for name in a.models.split(","):
        r = bench_model(name, a.batches, a.batch_size, a.device, not a.no_reference, a.reference_limit)
        mb = 2 ** 20
        print(f"\n{r['model']}: {r['image_size']} px, N={r['tokens']} tokens, L={r['layers']}, H={r['heads']}, "
              f"d={r['width']}, d'={r['out_dim']}")
        print(f"  ours: {r['ours_img_s']:.1f} img/s (plain forward {r['forward_img_s']:.1f} img/s, "
              f"overhead x{r['forward_img_s'] / r['ours_img_s']:.2f}); stored {r['ours_bytes_per_image'] / 1024:.1f} "
              f"KiB/image (head space fp16 + 2 x d' fp32)")
        print(f"  reference: [B,N,N,H,d] tensor {r['ref_tensor_bytes_per_layer'] / mb:.1f} MiB per image per layer "
              f"(x{r['layers']} layers); stored {r['ref_stored_bytes_per_image'] / 1024:.1f} KiB/image (fp32)")
        if "ref_img_s" in r:
            print(f"  reference measured: {r['ref_img_s']:.2f} img/s -> speed ratio ours/reference "
                  f"x{r['ours_img_s'] / r['ref_img_s']:.1f}")
        else:
            print("  reference not timed (its per-layer tensor exceeds --reference-limit)")
        print(f"  ratios: stored bytes x{r['ref_stored_bytes_per_image'] / r['ours_bytes_per_image']:.1f}, "
              f"transient bytes per layer x{r['ref_tensor_bytes_per_layer'] / r['ours_bytes_per_image']:.0f} "
              f"(vs all we store), extra FLOPs per layer x{r['flops_ratio_per_layer']:.0f}")


if __name__ == "__main__":
    main()

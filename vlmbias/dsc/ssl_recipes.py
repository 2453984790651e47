"""The self-supervised recipes and model configs, as plain dicts (no torch import).

MAE pre-training (``mae_config``, ``mae_pretrain_recipe_defaults``) and MAE's linear probe
(``probe_recipe_defaults``) in this project's recipe format. They live apart from the models
(``vlmbias.mae``, ``vlmbias.probe``) because the workflow resolves every run's spec while it
parses the Snakefile, and that must not pay for importing torch and timm.
"""

from __future__ import annotations

from typing import Any

# MAE's ``mae_vit_*_dec512d8b`` models; ``build_mae`` defaults to the base one (ViT-B/16,
# decoder 512-d, 8 blocks, 16 heads), the backbone of Tables 7 and 8.
MAE_ARCHS: dict[str, dict[str, Any]] = {
    "mae_vit_base_patch16": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "mae_vit_large_patch16": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16),
    "mae_vit_huge_patch14": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16),
}

MAE_DEFAULTS: dict[str, Any] = dict(
    img_size=224, in_chans=3, **MAE_ARCHS["mae_vit_base_patch16"],
    decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16,
    mlp_ratio=4.0, mask_ratio=0.75,
    norm_pix_loss=True,  # the released MAE models were trained with --norm_pix_loss
)


def check_mask_ratio(mask_ratio: float) -> None:
    if not 0.0 <= float(mask_ratio) < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")


def mae_config(spec: dict | None = None) -> dict[str, Any]:
    """The full constructor arguments for ``spec``: ``MAE_DEFAULTS`` (ViT-B/16, decoder 512-d,
    8 blocks, 16 heads, mask 0.75, norm_pix_loss), then the preset named by an optional ``arch``
    key (one of ``MAE_ARCHS``), then the spec's own keys."""
    spec = dict(spec or {})
    cfg = dict(MAE_DEFAULTS)
    arch = spec.pop("arch", None)
    if arch is not None:
        if arch not in MAE_ARCHS:
            raise ValueError(f"unknown MAE arch {arch!r}; known: {sorted(MAE_ARCHS)}")
        cfg.update(MAE_ARCHS[arch])
    unknown = set(spec) - set(MAE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown MAE config keys {sorted(unknown)}; "
                         f"known: {sorted(MAE_DEFAULTS)}")
    cfg.update(spec)
    return cfg



PROBE_BLR = 0.1
PROBE_BATCH = 16384          # 512 per GPU x 32 GPUs
PROBE_MICRO_BATCH = 512      # per forward pass: the BatchNorm statistics of one MAE GPU
PROBE_EPOCHS = 90
PROBE_WARMUP_EPOCHS = 10


def probe_lr(blr: float, batch: int) -> float:
    """MAE's linear lr scaling rule: lr = blr x batch / 256."""
    return float(blr) * int(batch) / 256


def epochs_to_samples(epochs: float, n_train: int) -> int:
    """An epoch budget as this project's samples-seen budget."""
    return int(round(float(epochs) * int(n_train)))


def probe_recipe_defaults(n_train: int | None = None, *, blr: float = PROBE_BLR,
                          batch_size: int = PROBE_BATCH,
                          micro_batch_size: int | None = PROBE_MICRO_BATCH,
                          epochs: float = PROBE_EPOCHS, warmup_epochs: float = PROBE_WARMUP_EPOCHS,
                          input_size: int = 224) -> dict[str, Any]:
    """MAE's linear-probe recipe as a ``train:`` recipe dict (``vlmbias.recipe`` format).

    LARS (momentum 0.9, trust coefficient 0.001), weight decay 0, lr = blr x batch / 256 with
    blr 0.1 and batch 16384 (lr 6.4), 90 epochs with 10 linear warmup epochs then per-step cosine
    to 0, cross-entropy without label smoothing; RandomResizedCrop (scale 0.08-1, bicubic) + flip,
    no RandAugment, Mixup or CutMix; evaluation resize 256 / centre crop 224, ImageNet mean/std.
    The batch is accumulated from micro batches of 512, MAE's per-GPU batch, so the head's
    BatchNorm sees the statistics MAE's did. ``blr``, ``epochs`` and ``warmup_epochs`` are kept in
    the dict for the record (``recipe.py`` ignores them); with ``n_train`` the epochs become
    ``samples_seen`` / ``warmup_samples``.

    One known deviation: MAE crops with its own TF-style RandomResizedCrop (one draw, clipped)
    where timm's transform retries up to 10 draws. LARS follows MAE through
    ``mae_lars_param_groups`` (see the module docstring)."""
    if micro_batch_size is not None and int(micro_batch_size) > int(batch_size):
        micro_batch_size = batch_size
    recipe: dict[str, Any] = {
        "input_size": int(input_size), "batch_size": int(batch_size),
        "optimizer": "lars", "blr": float(blr), "lr": probe_lr(blr, batch_size),
        "min_lr": 0.0, "weight_decay": 0.0,
        "epochs": epochs, "warmup_epochs": warmup_epochs,
        "label_smoothing": 0.0, "interpolation": "bicubic", "crop_pct": 0.875,
        "augment": {"random_crop": True, "scale": [0.08, 1.0], "ratio": [0.75, 1.3333333],
                    "hflip": 0.5, "auto_augment": None, "color_jitter": 0.0,
                    "mixup": 0.0, "cutmix": 0.0},
    }
    if micro_batch_size is not None:
        recipe["micro_batch_size"] = int(micro_batch_size)
    if n_train is not None:
        recipe["samples_seen"] = epochs_to_samples(epochs, n_train)
        recipe["warmup_samples"] = epochs_to_samples(warmup_epochs, n_train)
    return recipe


def mae_pretrain_recipe_defaults(n_train: int | None = None, *, blr: float = 1.5e-4,
                                 batch_size: int = 4096, epochs: int = 800,
                                 warmup_epochs: int = 40, input_size: int = 224) -> dict:
    """MAE's pre-training recipe (PRETRAIN.md / main_pretrain.py) in this project's recipe format.

    AdamW (betas 0.9/0.95) with weight decay 0.05 on all but biases and 1-D parameters, lr = blr
    x batch / 256 with blr 1.5e-4 at batch 4096, 800 epochs with 40 warmup epochs (the ViT-B
    release used 1600), per-step cosine to 0, RandomResizedCrop(scale 0.2-1, bicubic) + flip and
    nothing else. The paper does not give its MAE-on-YCD schedule (§4.8), so this is the
    default guess. Epochs become ``samples_seen`` / ``warmup_samples`` when ``n_train`` is given.
    """
    recipe: dict[str, Any] = {
        "input_size": int(input_size), "batch_size": int(batch_size),
        "optimizer": "adamw", "betas": [0.9, 0.95], "eps": 1.0e-8,
        "blr": float(blr), "lr": float(blr) * int(batch_size) / 256,  # MAE's lr scaling rule
        "min_lr": 0.0, "weight_decay": 0.05,
        "epochs": epochs, "warmup_epochs": warmup_epochs,
        "label_smoothing": 0.0, "interpolation": "bicubic", "crop_pct": 0.875,
        "augment": {"random_crop": True, "scale": [0.2, 1.0], "ratio": [0.75, 1.3333333],
                    "hflip": 0.5, "auto_augment": None, "color_jitter": 0.0,
                    "mixup": 0.0, "cutmix": 0.0},
    }
    if n_train is not None:
        recipe["samples_seen"] = int(epochs) * int(n_train)
        recipe["warmup_samples"] = int(warmup_epochs) * int(n_train)
    return recipe

"""Masked autoencoder (He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners").

Used by Table 7 (MAE pre-trained on YCD, then linear-probed for dataset classification) and as
the public IN-1K MAE reference (research notes §4.8, §4.9). A transcription of the official
``models_mae.MaskedAutoencoderViT`` built from timm parts:

* The ENCODER is a stock ``timm.models.vision_transformer.VisionTransformer`` (class token,
  ``global_pool='token'``, ``num_classes=0``, qkv bias, LayerNorm eps 1e-6), so every timm ViT
  API (``forward_intermediates``, ``forward_features``) works on it, and its state-dict keys are
  the official MAE encoder keys (``cls_token``, ``pos_embed``, ``patch_embed.proj.*``,
  ``blocks.N.*``, ``norm.*``). Its position embedding is MAE's fixed 2-D sin-cos table with a zero
  row for the class token, frozen (``requires_grad=False``, hence outside the optimizer).
* The DECODER (``decoder_embed``, ``mask_token``, ``decoder_pos_embed`` (frozen sin-cos),
  ``decoder_blocks`` of timm ``Block``, ``decoder_norm``, ``decoder_pred``) carries the official
  attribute names, so ``to_official_state_dict`` gives exactly the official key set.
* Initialisation as the official ``initialize_weights``: xavier-uniform for every Linear and for
  the patch projection seen as a Linear, normal(0.02) for the class and mask tokens, LayerNorm
  1/0, zero biases.
* Per-sample random masking by argsort of uniform noise; the loss is the per-patch MSE on the
  patch-normalised pixels (``norm_pix_loss``, each target patch normalised by its own mean and
  unbiased variance, eps 1e-6) averaged over the REMOVED patches only.

Training goes through the project's one loop: ``fit(mae, ds, ..., objective=LossFunction(mae_loss))``
(:func:`pretrain_mae`, rule ``pretrain_mae``).
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from typing import Any, Callable

import torch
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

from vlmbias.core.device import pick_device
from vlmbias.core.io import atomic_path, spec_hash, write_json
from vlmbias.dsc.spec import parse_view
from vlmbias.dsc.ssl_recipes import check_mask_ratio, mae_config
from vlmbias.shards.dataset import ShardImageDataset, records_for
from vlmbias.train import recipe as R
from vlmbias.train.loop import finish_run, fit
from vlmbias.train.objectives import LossFunction

def sincos_pos_embed_2d(embed_dim: int, grid_size: int | tuple[int, int],
                        cls_token: bool = True) -> torch.Tensor:
    """MAE's ``get_2d_sincos_pos_embed``: (1 + H*W, D) or (H*W, D), float32.

    Rows run over the patches in raster order (row by row). The first D/2 channels encode the
    column (x) coordinate, the last D/2 the row (y) coordinate, each as [sin | cos] with
    frequencies 1 / 10000^(k / (D/4)). With ``cls_token`` a zero row is prepended. (timm's
    ``build_sincos2d_pos_embed`` orders the channels differently, hence this function.)"""
    if embed_dim % 4:
        raise ValueError(f"embed_dim {embed_dim} must be divisible by 4 for 2-D sin-cos embeddings")
    gh, gw = (grid_size, grid_size) if isinstance(grid_size, int) else tuple(grid_size)
    ys, xs = torch.meshgrid(torch.arange(gh, dtype=torch.float64),
                            torch.arange(gw, dtype=torch.float64), indexing="ij")

    def one_d(pos: torch.Tensor) -> torch.Tensor:
        omega = torch.arange(embed_dim // 4, dtype=torch.float64) / (embed_dim / 4.0)
        out = pos.reshape(-1, 1) * (1.0 / 10000**omega).reshape(1, -1)
        return torch.cat([torch.sin(out), torch.cos(out)], dim=1)

    emb = torch.cat([one_d(xs), one_d(ys)], dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, embed_dim, dtype=torch.float64), emb], dim=0)
    return emb.float()


class MaskedAutoencoder(nn.Module):
    """MAE with a timm ``VisionTransformer`` encoder (``self.encoder``) and a light decoder."""

    def __init__(self, img_size: int = 224, patch_size: int = 16, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, decoder_embed_dim: int = 512,
                 decoder_depth: int = 8, decoder_num_heads: int = 16, mlp_ratio: float = 4.0,
                 mask_ratio: float = 0.75, norm_pix_loss: bool = True, in_chans: int = 3):
        super().__init__()
        check_mask_ratio(mask_ratio)
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.mask_ratio = float(mask_ratio)
        self.norm_pix_loss = bool(norm_pix_loss)
        self.in_chans = int(in_chans)

        # encoder: a stock timm ViT; weights are initialised below, as the official MAE does
        self.encoder = VisionTransformer(
            img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=0,
            global_pool="token", embed_dim=embed_dim, depth=depth, num_heads=num_heads,
            mlp_ratio=mlp_ratio, qkv_bias=True, class_token=True, norm_layer=norm_layer,
            weight_init="skip")
        self.encoder.pos_embed.requires_grad_(False)  # fixed sin-cos embedding
        num_patches = self.encoder.patch_embed.num_patches

        # decoder (official attribute names)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, decoder_embed_dim),
                                              requires_grad=False)  # fixed sin-cos embedding
        self.decoder_blocks = nn.ModuleList([
            Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, qkv_bias=True,
                  norm_layer=norm_layer)
            for _ in range(decoder_depth)])
        self.decoder_norm = norm_layer(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, self.patch_size**2 * in_chans, bias=True)
        self.initialize_weights()

    # -- geometry -------------------------------------------------------------------------------
    @property
    def patch_size(self) -> int:
        p = self.encoder.patch_embed.patch_size
        return int(p[0])

    @property
    def grid_size(self) -> tuple[int, int]:
        return tuple(int(g) for g in self.encoder.patch_embed.grid_size)

    def initialize_weights(self) -> None:
        enc = self.encoder
        with torch.no_grad():
            enc.pos_embed.copy_(sincos_pos_embed_2d(enc.pos_embed.shape[-1], self.grid_size)[None])
            self.decoder_pos_embed.copy_(
                sincos_pos_embed_2d(self.decoder_pos_embed.shape[-1], self.grid_size)[None])
        w = enc.patch_embed.proj.weight.data  # like nn.Linear, not nn.Conv2d
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(enc.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)  # following the official JAX ViT
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.zeros_(m.bias)
            nn.init.ones_(m.weight)

    # -- patches ----------------------------------------------------------------------------------
    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, L, p*p*C), patches in raster order, pixels (row, col, channel)."""
        p = self.patch_size
        n, c, hh, ww = imgs.shape
        if hh % p or ww % p:
            raise ValueError(f"image size {hh}x{ww} is not a multiple of the patch size {p}")
        h, w = hh // p, ww // p
        x = imgs.reshape(n, c, h, p, w, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(n, h * w, p * p * c)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L, p*p*C) -> (N, C, H, W), the inverse of ``patchify`` for this model's grid."""
        p, c = self.patch_size, self.in_chans
        h, w = self.grid_size
        if x.shape[1] != h * w or x.shape[2] != p * p * c:
            raise ValueError(f"expected (N, {h * w}, {p * p * c}) patches, got {tuple(x.shape)}")
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, w * p)

    # -- masking, encoder, decoder, loss ---------------------------------------------------------
    @staticmethod
    def random_masking(x: torch.Tensor, mask_ratio: float):
        """Per-sample random masking by argsort of uniform noise (MAE).

        x: (N, L, D). Keeps ``int(L * (1 - mask_ratio))`` tokens per sample. Returns
        ``x_masked`` (N, len_keep, D), ``mask`` (N, L; 0 = kept, 1 = removed, in the original
        order) and ``ids_restore`` (N, L), the permutation that undoes the shuffle."""
        check_mask_ratio(mask_ratio)
        n, length, d = x.shape
        len_keep = int(length * (1 - mask_ratio))
        noise = torch.rand(n, length, device=x.device)  # small is keep, large is remove
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).expand(-1, -1, d))
        mask = torch.ones(n, length, device=x.device)
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        return x_masked, mask, ids_restore

    def forward_encoder(self, imgs: torch.Tensor, mask_ratio: float | None = None):
        enc = self.encoder
        x = enc.patch_embed(imgs)
        x = x + enc.pos_embed[:, 1:, :]  # pos embed without the class token's row
        x, mask, ids_restore = self.random_masking(
            x, self.mask_ratio if mask_ratio is None else mask_ratio)
        cls = (enc.cls_token + enc.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        x = enc.norm_pre(x)  # Identity for MAE's ViT; kept so a pre-norm timm ViT stays exact
        x = enc.blocks(x)
        x = enc.norm(x)
        return x, mask, ids_restore

    def forward_decoder(self, x: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(x)
        n, _, d = x.shape
        mask_tokens = self.mask_token.expand(n, ids_restore.shape[1] + 1 - x.shape[1], -1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)  # no class token
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).expand(-1, -1, d))  # unshuffle
        x = torch.cat([x[:, :1, :], x_], dim=1)
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_norm(x)
        x = self.decoder_pred(x)
        return x[:, 1:, :]  # drop the class token

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor):
        """Mean over removed patches (mask == 1) of the per-patch MSE to the (normalised) pixels."""
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)  # (N, L): mean loss per patch
        return (loss * mask).sum() / mask.sum()

    def forward(self, imgs: torch.Tensor, mask_ratio: float | None = None):
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio)
        pred = self.forward_decoder(latent, ids_restore)  # (N, L, p*p*C)
        loss = self.forward_loss(imgs, pred, mask)
        return loss, pred, mask


def build_mae(spec: dict | None = None) -> MaskedAutoencoder:
    """A ``MaskedAutoencoder`` from a config dict (keys of ``vlmbias.dsc.ssl_recipes.MAE_DEFAULTS``,
    optional ``arch``)."""
    return MaskedAutoencoder(**mae_config(spec))


def mae_loss(model: MaskedAutoencoder, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The MAE objective as a ``loss(model, x, y)`` (``vlmbias.train.objectives.LossFunction``);
    labels are unused."""
    loss, _, _ = model(x)
    return loss


def encoder_of(mae: nn.Module) -> VisionTransformer:
    """The timm ``VisionTransformer`` encoder of a ``MaskedAutoencoder`` (a ViT passes through)."""
    if isinstance(mae, VisionTransformer):
        return mae
    if isinstance(mae, MaskedAutoencoder):
        return mae.encoder
    raise TypeError(f"expected a MaskedAutoencoder or a timm VisionTransformer, got {type(mae)}")


def to_official_state_dict(mae: MaskedAutoencoder) -> dict[str, torch.Tensor]:
    """The model's state dict under the official ``MaskedAutoencoderViT`` key names (the encoder's
    keys lose their ``encoder.`` prefix); ``{"model": ...}`` of it is an official-format file."""
    return {k.removeprefix("encoder."): v for k, v in mae.state_dict().items()}


# -- checkpoints ----------------------------------------------------------------------------------

_WRAPPER_PREFIXES = ("module.", "_orig_mod.")   # DDP, torch.compile
_DECODER_KEYS = ("decoder_", "mask_token")      # official MAE decoder parameters


def _is_decoder_key(k: str) -> bool:
    return k.startswith(_DECODER_KEYS)


def _strip(k: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in _WRAPPER_PREFIXES:
            if k.startswith(p):
                k, changed = k[len(p):], True
    return k.removeprefix("encoder.")


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    try:
        # argparse.Namespace: the official training checkpoints also store the run's ``args``
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - re-raised with the path
        raise ValueError(f"{path}: cannot be read as a (weights-only) torch checkpoint: {e}") from e
    if isinstance(obj, dict):
        for key in ("model", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a state dict, or a dict holding one under 'model'")
    return obj


def load_encoder_checkpoint(encoder: VisionTransformer, path: str, strict: bool = True) -> dict:
    """Load the encoder weights of a local MAE checkpoint into a timm ``VisionTransformer``.

    Accepts the official format (``{"model": state_dict, ...}``), a raw state dict, and this
    project's own ``fit`` checkpoints of a ``MaskedAutoencoder`` (keys ``encoder.*``); ``module.``
    / ``_orig_mod.`` / ``encoder.`` prefixes are stripped. Keys are matched by name to the
    encoder's state dict; decoder keys (``decoder_*``, ``mask_token``) are ignored; nothing is
    interpolated: a shape mismatch raises ``ValueError`` naming the path and the keys. With
    ``strict`` an encoder key absent from the file raises too; without it, it stays as it was.
    Returns ``{"path", "loaded", "missing", "unexpected", "ignored_decoder"}`` (lists of keys;
    ``unexpected``: non-decoder keys the encoder has no use for, e.g. a fine-tuned ``head``)."""
    raw = _read_state_dict(path)
    sd = {_strip(k): v for k, v in raw.items()}
    own = encoder.state_dict()
    ignored = sorted(k for k in sd if _is_decoder_key(k) and k not in own)
    unexpected = sorted(k for k in sd if k not in own and not _is_decoder_key(k))
    matched = {k: v for k, v in sd.items() if k in own}
    mismatched = [f"{k}: file {tuple(v.shape)} vs encoder {tuple(own[k].shape)}"
                  for k, v in matched.items() if v.shape != own[k].shape]
    if mismatched:
        raise ValueError(f"{path}: tensor shapes do not fit the encoder (nothing is interpolated; "
                         f"build the encoder with the checkpoint's geometry): "
                         + "; ".join(mismatched))
    missing = sorted(k for k in own if k not in matched)
    if not matched:
        raise ValueError(f"{path}: no key matches the encoder (file keys start with "
                         f"{sorted(raw)[:5]}...; encoder keys {sorted(own)[:5]}...)")
    if strict and missing:
        raise ValueError(f"{path}: encoder keys missing from the checkpoint: {missing}")
    encoder.load_state_dict(matched, strict=False)
    return {"path": str(path), "loaded": sorted(matched), "missing": missing,
            "unexpected": unexpected, "ignored_decoder": ignored}


__all__ = ["MaskedAutoencoder", "build_mae", "encoder_of", "load_encoder_checkpoint", "mae_loss",
           "sincos_pos_embed_2d", "to_official_state_dict"]


def pretrain_mae(spec: dict, sample_dirs: dict[str, str], encoder_path: str, metrics_path: str,
                 progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Rule pretrain_mae: MAE pre-training on the train splits of the spec's datasets (or the
    import of a public MAE checkpoint); writes the encoder's state dict and metrics.json."""
    t0 = time.time()
    torch.manual_seed(spec["seed"])
    mae = build_mae(spec["model"])
    info: dict[str, Any] = {"name": spec["name"], "family": "mae", "datasets": spec["datasets"],
                            "config": spec, "config_hash": spec_hash(spec)}
    if spec.get("checkpoint"):
        report = load_encoder_checkpoint(encoder_of(mae), spec["checkpoint"])
        info.update(imported_from=spec["checkpoint"], loaded_keys=len(report["loaded"]))
        log(f"MAE {spec['name']}: encoder imported from {spec['checkpoint']}")
    else:
        recipe = spec["recipe"]
        views = [parse_view(d) for d in spec["datasets"]]
        records = records_for(views, sample_dirs, "train", spec["n_train"])
        ds = ShardImageDataset(records, R.train_transform(recipe),
                               cache_images=bool(recipe.get("cache_images", False)))
        device = pick_device(recipe.get("device", "auto"))
        ckpt = os.path.join(os.path.dirname(metrics_path), "checkpoint.pt")
        state = fit(mae, ds, 1, recipe, spec["seed"], ckpt, spec_hash(spec), device,
                    num_workers=int(recipe.get("num_workers", 0)), progress=progress, log=log,
                    objective=LossFunction(mae_loss))
        info.update(loss_curve=state.loss_curve, epoch_loss=state.epoch_loss,
                    samples_seen=R.make_budget(recipe, len(ds)).samples_seen, n_train=len(ds),
                    steps=state.step)
        finish_run(ckpt)
    with atomic_path(encoder_path) as tmp:
        torch.save(encoder_of(mae).state_dict(), tmp)
    info["run_info"] = {"wall_time_s": time.time() - t0, "torch": torch.__version__}
    write_json(metrics_path, info)
    return info

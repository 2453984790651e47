"""Linear probing of a frozen ViT, following MAE's ``main_linprobe.py`` (research notes §4.8,
§4.9, checklist item 9).

``LinearProbe`` wraps any timm ``VisionTransformer`` (an MAE encoder, or a supervised ViT whose
own head is ignored): the encoder is frozen and kept in eval mode, the feature is the class token
after block ``layer`` passed through the encoder's final norm (MAE's ``--cls_token`` probe uses
the last block; Table 8 sweeps blocks 8/9/10 of 12), and the head is MAE's
``BatchNorm1d(affine=False, eps=1e-6)`` + ``Linear`` (weight trunc-normal std 0.01, bias 0).
It trains through the project's one loop, ``vlmbias.train.loop.fit``, which leaves frozen
parameters out of the optimizer; ``vlmbias.dsc.ssl_recipes.probe_recipe_defaults`` gives MAE's
probe recipe in this project's format.

One timm detail matters for faithfulness: timm's ``Lars`` only applies the trust ratio when a
group's weight decay is non-zero (or ``always_adapt`` is set), so with MAE's weight decay 0 the
plain ``create_optimizer_v2(opt="lars")`` is SGD with momentum at lr 6.4. MAE's LARS (from MoCo
v3) adapts every parameter with more than one dimension regardless of weight decay and leaves
1-D ones (biases) alone; ``vlmbias.train.recipe.mae_lars_param_groups`` builds exactly those
groups, and ``recipe.optimizer`` passes it to timm's ``create_optimizer_v2`` for ``optimizer: lars``.

A probe job sweeps layers and base learning rates (Table 8: blocks 8-10 x blr 0.1-0.3) on ONE
frozen forward pass: ``LinearProbe`` holds one head per (layer, lr); every head starts from the
same initial weights and sees the same batches a probe trained alone would (its own lr, its own
BatchNorm statistics, its own gradient: the loss is the sum of the heads' losses and no
parameter is shared), so each head's result is the one a job of its own would give, and the
encoder runs once per batch instead of once per head.
"""

from __future__ import annotations

import os
import time
from typing import Callable, Sequence

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from vlmbias.core.device import pick_device
from vlmbias.core.io import spec_hash, write_json
from vlmbias.dsc.mae import build_mae, encoder_of
from vlmbias.shards.dataset import ShardImageDataset, labeled_split, records_for
from vlmbias.train import recipe as R
from vlmbias.train.loop import evaluate_heads, finish_run, fit
from vlmbias.train.models import build_model
from vlmbias.train.objectives import Objective


def _block_index(encoder: VisionTransformer, layer: int | None) -> int:
    depth = len(encoder.blocks)
    idx = depth - 1 if layer is None else int(layer)
    if idx < 0:
        idx += depth
    if not 0 <= idx < depth:
        raise ValueError(f"layer {layer} is out of range for a ViT with {depth} blocks")
    return idx


class ProbeHead(nn.Sequential):
    """MAE's linear-probe head, ``BatchNorm1d(affine=False, eps=1e-6)`` + ``Linear`` (weight
    trunc-normal std 0.01, bias 0), on the class token after block ``layer``, trained at
    ``lr`` (None: the recipe's; see ``vlmbias.train.recipe.mae_lars_param_groups``)."""

    def __init__(self, dim: int, num_classes: int, layer: int, lr: float | None = None):
        super().__init__(nn.BatchNorm1d(dim, affine=False, eps=1e-6), nn.Linear(dim, int(num_classes)))
        trunc_normal_(self[1].weight, std=0.01)
        nn.init.zeros_(self[1].bias)
        self.layer, self.lr = layer, lr


class LinearProbe(nn.Module):
    """Frozen timm ViT + MAE's linear-probe head(s) on the class token.

    One head on block ``layer`` (None: the last), or with ``sweep`` one head per
    ``(layer, lr)``; all heads start from the same initial weights. ``forward`` gives the
    logits [B, K] of a single head, [H, B, K] of several."""

    def __init__(self, encoder: VisionTransformer, num_classes: int, layer: int | None = None,
                 sweep: Sequence[tuple[int | None, float | None]] | None = None):
        super().__init__()
        if not isinstance(encoder, VisionTransformer):
            raise TypeError(f"LinearProbe needs a timm VisionTransformer (for an MAE use "
                            f"vlmbias.dsc.mae.encoder_of(mae)), got {type(encoder).__name__}")
        if encoder.cls_token is None:
            raise ValueError("LinearProbe uses the class token, but this ViT has none")
        sweep = list(sweep) if sweep is not None else [(layer, None)]
        if not sweep:
            raise ValueError("LinearProbe needs at least one head")
        self.encoder = encoder
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        dim = int(encoder.embed_dim)
        rng = torch.get_rng_state()
        heads = []
        for layer_, lr in sweep:
            torch.set_rng_state(rng)  # every head from the same draw: as if it were alone
            heads.append(ProbeHead(dim, num_classes, _block_index(encoder, layer_), lr))
        self.heads = nn.ModuleList(heads)
        self.layers = sorted({h.layer for h in self.heads})
        self.encoder.eval()

    @property
    def layer(self) -> int:
        """The block of a single head."""
        if len(self.heads) != 1:
            raise AttributeError("a probe of several heads has one layer per head (.heads[i].layer)")
        return self.heads[0].layer

    @property
    def head(self) -> ProbeHead:
        if len(self.heads) != 1:
            raise AttributeError("a probe of several heads: use .heads")
        return self.heads[0]

    def train(self, mode: bool = True) -> "LinearProbe":
        """Switches the heads only: the frozen encoder stays in eval mode (no dropout, no
        drop-path, no batch statistics)."""
        super().train(mode)
        self.encoder.eval()
        return self

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Block -> (N, D): the class token after each probed block, through the encoder's final
        norm, from one pass (the blocks after the last probed one are not run)."""
        out = self.encoder.forward_intermediates(
            x, indices=self.layers, return_prefix_tokens=True, norm=True, stop_early=True,
            output_fmt="NLC", intermediates_only=True)
        return {layer: prefix[:, 0] for layer, (_, prefix) in zip(self.layers, out)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.features(x)
        logits = [h(feats[h.layer].float()) for h in self.heads]
        return logits[0] if len(logits) == 1 else torch.stack(logits)


class ProbeLoss(Objective):
    """The sum of every head's loss (the recipe's criterion: cross-entropy, no Mixup): heads
    share no parameter, so each gets the gradient it would get alone."""

    def __init__(self, recipe: dict, num_classes: int):
        _, self.criterion = R.mixup_and_loss(recipe, num_classes)

    def loss(self, model, x, target, idx):
        out = model(x)
        if out.ndim == 2:
            return self.criterion(out, target)
        return sum(self.criterion(o, target) for o in out)


def build_encoder(encoder: dict, weights: str | None, num_classes: int, input_size: int) -> nn.Module:
    """The encoder a probe spec names (``vlmbias.dsc.ssl_plan``), with its weights loaded:
    an MAE's encoder, a dataset-classification model, or a randomly initialised model."""
    if encoder["kind"] == "mae":
        model = encoder_of(build_mae(encoder["model"]))
    elif encoder["kind"] == "dsc":
        model = build_model(encoder["model"], encoder["num_classes"], encoder["input_size"])
    else:
        return build_model(encoder["model"], num_classes, input_size)
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    return model


def run_probe(spec: dict, sample_dirs: dict[str, str], encoder_path: str | None, metrics_path: str,
              progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Rule probe: train the heads of one probe job on its task, evaluate each on the task's
    validation images; metrics.json holds one entry per head (``heads``)."""
    t0 = time.time()
    recipe = spec["recipe"]
    task = spec["task"]
    if task["kind"] == "dsc":
        train_rec = records_for(task["views"], sample_dirs, "train")
        val_rec = records_for(task["views"], sample_dirs, "val")
        k = len(task["views"])
    else:
        d = sample_dirs[task["dataset"]]
        train_rec, val_rec = labeled_split(d, "train")[0], labeled_split(d, "val")[0]
        k = 1 + max(r.label for r in train_rec + val_rec)
    torch.manual_seed(spec["seed"])
    encoder = build_encoder(spec["encoder"], encoder_path, k, int(recipe["input_size"]))
    model = LinearProbe(encoder, k, sweep=[(h["layer"], h["lr"]) for h in spec["heads"]])
    cache = bool(recipe.get("cache_images", False))
    train_ds = ShardImageDataset(train_rec, R.train_transform(recipe), cache_images=cache)
    val_ds = ShardImageDataset(val_rec, R.eval_transform(recipe))
    device = pick_device(recipe.get("device", "auto"))
    ckpt = os.path.join(os.path.dirname(metrics_path), "checkpoint.pt")
    workers = int(recipe.get("num_workers", 0))
    state = fit(model, train_ds, k, recipe, spec["seed"], ckpt, spec_hash(spec), device,
                num_workers=workers, progress=progress, log=log, objective=ProbeLoss(recipe, k))
    vals = evaluate_heads(model, val_ds, k, device, int(recipe.get("micro_batch_size") or recipe["batch_size"]),
                          workers, "val", progress)
    heads = [{"id": h["id"], "layer": head.layer, "blr": h["blr"], "val_acc": v["acc"],
              "confusion_matrix": v["confusion"]}
             for h, head, v in zip(spec["heads"], model.heads, vals)]
    metrics = {"probe_id": spec["probe_id"], "family": "probe", "heads": heads,
               "n_val": vals[0]["n"], "n_train": len(train_ds), "num_classes": k,
               "loss_curve": state.loss_curve, "epoch_loss": state.epoch_loss,
               "samples_seen": R.make_budget(recipe, len(train_ds)).samples_seen,
               "config": spec, "config_hash": spec_hash(spec), "seed": spec["seed"],
               "run_info": {"wall_time_s": time.time() - t0, "device": str(device),
                            "torch": torch.__version__, "resumed_from_epoch": state.resumed_from_epoch}}
    write_json(metrics_path, metrics)
    finish_run(ckpt)
    for h in heads:
        log(f"probe {h['id']}: val {h['val_acc']:.2f}%")
    return metrics


__all__ = ["LinearProbe", "ProbeHead", "ProbeLoss", "build_encoder", "run_probe"]

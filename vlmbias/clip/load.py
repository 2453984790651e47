"""The one CLIP loader of the project.

Every CLIP-based family (TextSpan, B2T, PerceptionCLIP, LLE) gets its model from
:func:`load_clip`, with a model *spec* from the config's ``clip.models`` section:

* ``{open_clip: ViT-B-16, pretrained: laion2b_s34b_b88k}`` -- an open_clip architecture with a
  pretrained tag (open_clip downloads or finds the weights in its cache);
* ``{open_clip: ViT-B-16, checkpoint: /path/to/weights.pt}`` -- a local checkpoint file
  (anything open_clip's ``load_checkpoint`` reads: a state dict, ``{"state_dict": ...}``,
  safetensors);
* ``{open_clip: vlmbias-toy-vit, train: {...}}`` -- a model trained in the workflow
  (rule ``train_clip``, ``vlmbias.clip.pretrain``); its checkpoint
  ``results/clip/<name>/model.pt`` is passed as ``checkpoint=``;
* ``{open_clip: ViT-B-16}`` (or ``pretrained: null``) -- randomly initialised (tests, benchmarks).

The toy architectures are open_clip model configs shipped as JSON under
``vlmbias/clip/model_configs/`` and registered with ``open_clip.add_model_config`` on import, so
``open_clip.create_model("vlmbias-toy-vit")`` works like any built-in name. Nothing of open_clip
is copied: models, transforms, tokenizers, ``ClipLoss``, the OpenAI ImageNet templates and
class names, and ``build_zero_shot_classifier`` are open_clip's own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable, Mapping

import open_clip
import torch
from torch import nn

from vlmbias.clip.spec import MODEL_CONFIG_DIR, TOY_ARCHS, ClipError, check_pretrained_tag, check_spec
from vlmbias.core.io import atomic_path


def register_model_configs() -> None:
    """Register the package's open_clip model configs (idempotent)."""
    if not all(a in open_clip.list_models() for a in TOY_ARCHS):
        open_clip.add_model_config(MODEL_CONFIG_DIR)


register_model_configs()


@dataclass
class ClipBundle:
    """A loaded CLIP: ``model`` (eval mode, fp32, on ``device``), its eval ``preprocess``
    (PIL image -> tensor), its ``tokenizer`` (list of str -> LongTensor), ``name`` (the config
    name, or the architecture), ``arch`` (the open_clip name) and ``weights`` (where the
    weights came from: ``pretrained:<tag>``, ``checkpoint:<path>`` or ``random``)."""

    model: nn.Module
    preprocess: Callable
    tokenizer: Callable
    name: str
    arch: str
    weights: str
    device: torch.device
    spec: dict = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_projection.shape[1]) if hasattr(self.model, "text_projection") \
            else int(self.model.visual.output_dim)


def load_clip(spec: Mapping, checkpoint: str | os.PathLike | None = None, device: str | torch.device = "cpu",
              name: str | None = None) -> ClipBundle:
    """Build the CLIP a spec names (see the module doc); ``checkpoint`` overrides the spec's
    weight source (used for models trained in the workflow). Returns a :class:`ClipBundle`."""
    where = f"clip model {name!r}" if name else "clip model"
    check_spec(spec, where)
    check_pretrained_tag(spec, where)
    arch = spec["open_clip"]
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        if not os.path.isfile(checkpoint):
            raise ClipError(f"{where}: checkpoint {checkpoint} does not exist")
        pretrained, weights = checkpoint, f"checkpoint:{checkpoint}"
    elif spec.get("checkpoint"):
        pretrained, weights = spec["checkpoint"], f"checkpoint:{spec['checkpoint']}"
    elif spec.get("pretrained"):
        pretrained, weights = spec["pretrained"], f"pretrained:{spec['pretrained']}"
    elif spec.get("train"):
        raise ClipError(f"{where} is trained in the workflow (rule train_clip): pass its "
                        f"checkpoint results/clip/{name or '<name>'}/model.pt")
    else:
        pretrained, weights = None, "random"
    device = torch.device(device)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=pretrained, device=device, precision="fp32")
    except Exception as e:  # noqa: BLE001 - re-raised naming the spec and the weights
        raise ClipError(f"{where}: cannot build {arch} with weights {weights}: {e}") from e
    model.eval()
    return ClipBundle(model=model, preprocess=preprocess, tokenizer=open_clip.get_tokenizer(arch),
                      name=name or arch, arch=arch, weights=weights, device=device, spec=dict(spec))


def save_checkpoint(model: nn.Module, path: str, arch: str, info: Mapping | None = None) -> None:
    """Write ``{"state_dict", "open_clip", "info"}`` atomically: a file open_clip's own loader
    (``create_model(arch, pretrained=path)``) and :func:`load_clip` read (weights-only)."""
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, "open_clip": arch, "info": json.loads(json.dumps(info or {}))}, tmp)

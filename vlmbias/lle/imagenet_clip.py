"""t15's CLIP zero-shot rows (the material's "CLIP (zero-shot, WIT / LAION)"): a CLIP of the shared
stack classifies the evaluation sets from the embedding cache (``vlmbias.clip.embed``) with its
zero-shot head (class names x templates, ``vlmbias.clip.zeroshot``); ImageNet-W is the cache of
the val images under the ``imagenet_w`` preprocessing (the watermark after the CLIP's resize and
crop). The six columns are those of the LLR rows (``metrics.imagenet_shortcut_metrics``)."""

from __future__ import annotations

from typing import Mapping

from vlmbias.clip.embed import load_embeddings
from vlmbias.clip.load import ClipBundle
from vlmbias.clip.spec import ClipError, class_names
from vlmbias.clip.templates import templates
from vlmbias.clip.zeroshot import zero_shot_weights
from vlmbias.lle.imagenet import metrics_from_sets


def clip_metrics(bundle: ClipBundle, spec: Mapping, embeddings: Mapping[str, str]) -> dict:
    """The six columns of a CLIP's zero-shot classifier; ``embeddings``: set name -> cache file."""
    names = class_names(spec["dataset_spec"])
    if len(names) != int(spec["num_classes"]):
        raise ClipError(f"lle.imagenet: {len(names)} class names for num_classes {spec['num_classes']}")
    w = zero_shot_weights(bundle, names, templates(spec["templates"])).cpu()
    sets, rend = {}, None
    for name, path in embeddings.items():
        emb = load_embeddings(path)
        logits = 100.0 * emb.features.float() @ w
        sets[name] = (logits.numpy(), emb.labels.numpy())
        if name == "val_rendition":
            rend = (emb.metadata, emb.labels.tolist())
    return metrics_from_sets(spec, sets, rend)


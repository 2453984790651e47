"""Prompt template sets for zero-shot classifiers, by name (config ``clip.templates``):
open_clip's own OpenAI ImageNet templates, and the toy world's."""

from __future__ import annotations

import open_clip

from vlmbias import toyworld
from vlmbias.clip.spec import TEMPLATE_SET_NAMES, ClipError

# Prompt templates for the toy world: the caption grammar of its ImageNet-like source, every object
# colour x background ("a photo of a red {} on grass"), built from the toy world's vocabulary. A
# tiny text tower trained on such captions places "a photo of a ball" (no colour, no background)
# off its caption distribution: measured on the default toy CLIP, 26% zero-shot with that single
# template, 42% with this ensemble (nearest class mean of the image features: 44%).
TOY_TEMPLATES = tuple(toyworld.object_caption_templates())
TEMPLATE_SETS: dict[str, tuple] = {
    "openai_imagenet": open_clip.OPENAI_IMAGENET_TEMPLATES,   # the 80 CLIP ImageNet templates
    "simple_imagenet": open_clip.SIMPLE_IMAGENET_TEMPLATES,
    "toy": TOY_TEMPLATES,
    "plain": ("a photo of a {}",),   # one template, the prompt of B2T's keyword score
}
assert tuple(TEMPLATE_SETS) == TEMPLATE_SET_NAMES  # vlmbias.clip.spec checks config names against these


def templates(name: str) -> list:
    """A named template list: ``openai_imagenet`` (open_clip's 80 OpenAI ImageNet templates,
    callables), ``simple_imagenet`` (its 7-template subset), ``toy`` (format strings)."""
    try:
        return list(TEMPLATE_SETS[name])
    except KeyError:
        raise ClipError(f"unknown template set {name!r} (known: {sorted(TEMPLATE_SETS)})") from None

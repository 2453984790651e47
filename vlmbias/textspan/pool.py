"""The TextSpan text pool: descriptions of image properties the heads are explained by.

The paper's pool is ~3,500 ChatGPT-written descriptions (a file, one per line: ``read_pool``);
the toy world's is generated from its own vocabulary (``vlmbias.toyworld.vocabulary``) by the
templates below (``text_pool``), so every planted factor -- colour, object, place, count,
style -- has texts of its own.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

from vlmbias import toyworld
from vlmbias.textspan.span import TextSpanError

POOL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "colour": ("An image with {w} tones", "{A} colour palette", "Picture dominated by the colour {w}",
               "Something painted {w}", "A vivid splash of {w}"),
    "object": ("An image of {a}", "A close-up of {a}", "A simple drawing of {a}", "The shape of {a}",
               "A small {w} in the centre"),
    "colour_object": ("{A}",),
    "place": ("{W} in the background", "{A} scene", "An image with {a} background", "Photo taken in {a} setting",
              "Scenery of {w}"),
    "count": ("An image with {w} objects", "A picture showing {w} things", "The number {w}"),
    "style": ("An image in {a} style", "{A} picture", "Rendered as {a}"),
}


def text_pool(vocab: Mapping[str, Sequence[str]] | None = None) -> list[tuple[str, str]]:
    """(category, text) pairs from the templates x vocabulary, de-duplicated, in a fixed order.
    In a template {w} is the word, {a} the word with its article; capitalised: {W}, {A}."""
    vocab = toyworld.vocabulary() if vocab is None else vocab
    seen, out = set(), []

    def add(cat, template, word):
        if word == "one" and ("{w} objects" in template or "{w} things" in template):
            return  # no "one things"
        a = toyworld.article(word)
        text = template.format(w=word, a=a, W=word[:1].upper() + word[1:], A=a[:1].upper() + a[1:])
        if text not in seen:
            seen.add(text)
            out.append((cat, text))

    for cat, temps in POOL_TEMPLATES.items():
        if cat == "colour_object":
            words = [f"{c} {o}" for c, o in itertools.product(vocab["colour"], vocab["object"])]
        else:
            words = vocab[cat]
        for w in words:
            for t in temps:
                add(cat, t, w)
    return out


def read_pool(path: str) -> list[str]:
    """A text pool file: one description per line (blank lines and '#' comments skipped)."""
    with open(path) as f:
        texts = [ln.strip() for ln in f]
    texts = [t for t in texts if t and not t.startswith("#")]
    if not texts:
        raise TextSpanError(f"text pool {path} holds no texts")
    return list(dict.fromkeys(texts))

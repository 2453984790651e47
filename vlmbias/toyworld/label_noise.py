"""The ImageNet-like set with planted label errors (source ``imagenet_noisy``; B2T's label
diagnosis, t13): the object photos of the ImageNet-like source, each planned (split, label,
drawn object), with two kinds of planted error recorded in the json ``label_error``:

* ``mislabeled``: in the val split, one image in 12 (positions 11-21 of every block of 132, so
  every class once per block) shows another class's object than its label says (the drawn
  object in ``object``, its class in ``true_label``);
* ``ambiguous``: a near-synonym pair of classes, ``mug`` beside ``cup``: a mug is drawn as a
  cup, so the two classes hold the same pictures under two names (as ImageNet's "laptop" and
  "notebook"); every mug image is marked (in both splits), with its partner in ``synonym``.

The classes are the ImageNet-like source's ten and ``mug``; train and val are balanced over
them (every fifth image is val, as the ImageNet-like source).
"""

from __future__ import annotations

import numpy as np

from vlmbias.toyworld.draw import _a
from vlmbias.toyworld.objects import OBJECT_CLASSES, object_word
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component
from vlmbias.toyworld.scenes.objects import _object_photo, background_phrase

SYNONYMS = {"mug": "cup"}  # class -> the class whose object it is drawn as
NOISY_CLASSES = tuple(object_word(c) for c in OBJECT_CLASSES) + tuple(SYNONYMS)
MISLABELED_EVERY = 12      # one val image in 12 is mislabeled


def _drawn_class(label: int) -> int:
    """The OBJECT_CLASSES index drawn for a class (a synonym: its partner's)."""
    name = NOISY_CLASSES[label]
    return NOISY_CLASSES.index(SYNONYMS.get(name, name))


def _noisy_plan(rng: np.random.Generator, index: int) -> dict:
    q, r = divmod(index, 5)
    split = "val" if r == 4 else "train"
    t = 4 * q + r if split == "train" else q  # position among the split's samples
    k = len(NOISY_CLASSES)
    label = t % k
    drawn, error = label, ("ambiguous" if NOISY_CLASSES[label] in SYNONYMS else "")
    if split == "val" and (t // k) % MISLABELED_EVERY == 1:
        # another class's object, never the label's synonym partner (that is the ambiguity)
        others = [c for c in range(k) if _drawn_class(c) != _drawn_class(label) and c == _drawn_class(c)]
        drawn, error = others[(t // (k * MISLABELED_EVERY) + label) % len(others)], "mislabeled"
    return {"label": label, "drawn": drawn, "label_error": error, "split": split}


@register_component("labeled_object")
def labeled_object(rng, w, h, label: int | None = None, drawn: int | None = None, label_error: str = "",
                   split: str | None = None) -> Content:
    """An object photo of the ImageNet-like source with a planned label, drawn object and
    planted error (unplanned: a clean random label)."""
    label = int(rng.integers(len(NOISY_CLASSES))) if label is None else int(label)
    drawn = label if drawn is None else int(drawn)
    img, _, obj, oname, bgname, setting = _object_photo(rng, w, h, label=_drawn_class(drawn))
    word = NOISY_CLASSES[drawn]
    cap = f"a photo of {_a(oname + ' ' + word)} {background_phrase(bgname)}"
    attrs = _attrs(0, setting, "photo", label=label, class_name=NOISY_CLASSES[label], object=word,
                   true_label=drawn, label_error=label_error)
    if label_error == "ambiguous":  # the class its picture equally belongs to
        attrs["synonym"] = SYNONYMS[NOISY_CLASSES[label]]
    if split is not None:
        attrs["split"] = split
    return Content(img, cap, attrs)

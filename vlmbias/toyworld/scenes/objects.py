"""One centred object on a natural texture (ImageNet): the labeled object photos of the
ImageNet-like source, on the backgrounds ``_BACKGROUNDS``."""

from __future__ import annotations

from vlmbias.toyworld.draw import _a, _choice, _darker, _jit, _mix, _texture, _u, new_draw
from vlmbias.toyworld.objects import OBJECT_CLASSES, _box_at, draw_photo_object, object_color, object_word
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component

_BACKGROUNDS = {
    "grass": ((85, 135, 60), 22, "outdoor"),
    "sand": ((195, 175, 130), 18, "outdoor"),
    "water": ((60, 110, 150), 20, "outdoor"),
    "leaves": ((70, 100, 50), 30, "outdoor"),
    "a wooden table": ((140, 100, 65), 20, "indoor"),
    "stone": ((130, 128, 122), 22, "outdoor"),
}


def background_phrase(background: str) -> str:
    """A background as the captions say it: "on grass", "in water"."""
    return f"{'in' if background in ('water', 'leaves') else 'on'} {background}"


@register_component("object_on_texture")
def object_on_texture(rng, w, h) -> Content:
    bgname = _choice(rng, tuple(_BACKGROUNDS))
    base, var, setting = _BACKGROUNDS[bgname]
    img = _texture(rng, w, h, _jit(base, rng, 12), var * 1.3, cells=int(rng.integers(6, 16)), fine=10, mono=0.6)
    d = new_draw(img)
    label = int(rng.integers(len(OBJECT_CLASSES)))
    obj = OBJECT_CLASSES[label]
    oname, ocol = object_color(rng, obj)
    ocol = _mix(ocol, (128, 128, 128), 0.2)  # natural objects are less saturated than cartoons
    size = _u(rng, 0.5, 0.78) * min(w, h)
    cx, cy = w / 2 + _u(rng, -0.08, 0.08) * w, h / 2 + _u(rng, -0.08, 0.08) * h
    d.ellipse((cx - size * 0.4, cy + size * 0.35, cx + size * 0.4, cy + size * 0.5), fill=_darker(base, 0.7))
    draw_photo_object(img, obj, _box_at(cx, cy, size), ocol, rng)
    cap = f"a photo of {_a(oname + ' ' + object_word(obj))} {background_phrase(bgname)}"
    return Content(img, cap, _attrs(0, setting, "photo", label=label, class_name=obj))

"""One centred object on a natural texture (ImageNet): the labeled object photos of the
ImageNet-like source, on the backgrounds ``_BACKGROUNDS``; ``web_object``: the same photos with
web-like captions (the CLIP pre-training pairs)."""

from __future__ import annotations

from vlmbias.toyworld.draw import _a, _choice, _darker, _jit, _mix, _texture, _u, _weighted, new_draw
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


def _backdrop(rng, w, h, background: str):
    """The bare natural texture of background ``background`` (a key of ``_BACKGROUNDS``)."""
    base, var, _ = _BACKGROUNDS[background]
    return _texture(rng, w, h, _jit(base, rng, 12), var * 1.3, cells=int(rng.integers(6, 16)), fine=10, mono=0.6)


def _object_photo(rng, w, h, label: int | None = None, *, obj: str | None = None, background: str | None = None,
                  backdrop=None, layers: dict | None = None) -> tuple:
    """The drawing of ``object_on_texture``: (image, label, object, colour name, background,
    setting); ``label`` (an index of ``OBJECT_CLASSES``) fixes the object, else it is drawn.

    For worlds built on these photos (the random draws are the same whatever is given, so a
    plain call draws what it always drew): ``obj`` draws that registered object instead of the
    label's; ``background`` fixes the background (a key of ``_BACKGROUNDS``) and ``backdrop``
    (an image of size (w, h), e.g. another photo's ``_backdrop``) replaces its texture; a
    ``layers`` dict receives ``background`` (the texture before anything is drawn on it),
    ``ground`` (with the object's shadow) and ``mask`` (the object's mask, L 0/255).
    """
    bgname = _choice(rng, tuple(_BACKGROUNDS))
    if background is not None:
        bgname = background
    base, var, setting = _BACKGROUNDS[bgname]
    img = _backdrop(rng, w, h, bgname)
    if backdrop is not None:
        img = backdrop.convert("RGB").copy()
    if layers is not None:
        layers["background"] = img.copy()
    d = new_draw(img)
    drawn = int(rng.integers(len(OBJECT_CLASSES)))
    label = drawn if label is None else int(label)
    obj = OBJECT_CLASSES[label] if obj is None else obj
    oname, ocol = object_color(rng, obj)
    ocol = _mix(ocol, (128, 128, 128), 0.2)  # natural objects are less saturated than cartoons
    size = _u(rng, 0.5, 0.78) * min(w, h)
    cx, cy = w / 2 + _u(rng, -0.08, 0.08) * w, h / 2 + _u(rng, -0.08, 0.08) * h
    d.ellipse((cx - size * 0.4, cy + size * 0.35, cx + size * 0.4, cy + size * 0.5), fill=_darker(base, 0.7))
    if layers is not None:
        layers["ground"] = img.copy()
    mask = draw_photo_object(img, obj, _box_at(cx, cy, size), ocol, rng)
    if layers is not None:
        layers["mask"] = mask
    return img, label, obj, oname, bgname, setting


@register_component("object_on_texture")
def object_on_texture(rng, w, h) -> Content:
    img, label, obj, oname, bgname, setting = _object_photo(rng, w, h)
    cap = f"a photo of {_a(oname + ' ' + object_word(obj))} {background_phrase(bgname)}"
    return Content(img, cap, _attrs(0, setting, "photo", label=label, class_name=obj))


@register_component("web_object")
def web_object(rng, w, h) -> Content:
    """The photos of ``object_on_texture`` as image-text pairs of the web (the CLIP pre-training
    pairs): the same drawings, with alt-text-like captions that name the object with or without
    its colour and background, or as a tag list ("a photo of a cup", "a red cup",
    "cup, red, stone"). A caption that always names all three lets a contrastive model match
    pairs by colour and background alone; these make it look at the object."""
    img, label, obj, oname, bgname, setting = _object_photo(rng, w, h)
    word = object_word(obj)
    cap = _weighted(rng, (
        (f"a photo of {_a(oname + ' ' + word)} {background_phrase(bgname)}", 0.35),
        (f"a photo of {_a(word)}", 0.2),
        (_a(f"{oname} {word}"), 0.1),
        (f"a photo of {_a(word)} {background_phrase(bgname)}", 0.1),
        (f"{word}, {oname}, {bgname.removeprefix('a ')}", 0.1)))
    return Content(img, cap, _attrs(0, setting, "photo", label=label, class_name=obj))

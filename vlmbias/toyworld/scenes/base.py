"""What a component draws (``Content``), the ``COMPONENTS`` registry and the group attributes
(people, setting, style) every component sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np
from PIL import Image

from vlmbias.toyworld.draw import _people_attr


@dataclass
class Content:
    """What a component draws: the image, a caption naming what it shows, and attributes.

    ``attrs`` must hold the group attributes ``people`` ("none"|"one"|"several"),
    ``setting`` ("outdoor"|"indoor"|"studio"|"page") and ``style``
    ("photo"|"cartoon"|"render"|"document"); it may hold more (e.g. ``label``).

    ``extras`` (default none) are extra shard members beside the image: member name (an
    extension ending in ``.png``, e.g. ``car_mask.png``) -> an image of the sample's size, or a
    function of the image as written (decoded from its encoded bytes, signature applied)
    returning one (members derived from what is written, e.g. UrbanCars' background-only
    image). They are written as PNG.
    """

    image: Image.Image
    caption: str
    attrs: dict
    extras: dict[str, Union[Image.Image, Callable[[Image.Image], Image.Image]]] = field(default_factory=dict)


ComponentFn = Callable[[np.random.Generator, int, int], Content]
COMPONENTS: dict[str, ComponentFn] = {}
PEOPLE_VALUES = ("none", "one", "several")
SETTING_VALUES = ("outdoor", "indoor", "studio", "page")
STYLE_VALUES = ("photo", "cartoon", "render", "document")


def register_component(name: str):
    """Decorator: register a content generator ``fn(rng, width, height) -> Content``."""

    def deco(fn: ComponentFn) -> ComponentFn:
        if name in COMPONENTS:
            raise ValueError(f"component {name!r} registered twice")
        COMPONENTS[name] = fn
        return fn

    return deco


def _attrs(people: int | str, setting: str, style: str, **extra) -> dict:
    p = people if isinstance(people, str) else _people_attr(people)
    return {"people": p, "setting": setting, "style": style, **extra}

"""PerceptionCLIP's prompts, composed as the official code composes them (research notes §1.2,
§1.6), and its attribute dictionaries: the official ones (data files beside this module) and
the toy world's, generated from the toy world's own vocabulary. No torch here.

A dictionary maps attribute -> value -> descriptions ("" = no description). For the chosen
factors, in their order, the composite values are the cartesian product of the factors' values
(factor order, then each dictionary's order); a composite value's descriptions are the cartesian
product of its members' descriptions joined with ", ", empty parts skipped. The prompt of class
c with description d is ``main(c) + ", " + d + "."``, or ``main(c) + "."`` when d is empty, the
main template being used as given (CelebA's official one ends in a period, hence its
"...blond hair., female." prompts). ClassAttr prompts hold the class name; PureAttr prompts the
generic word in its place (``convert_text``: "bird", "hair").
"""

from __future__ import annotations

import itertools
import os
from importlib import resources
from typing import Mapping, Sequence

import yaml

from vlmbias import toyworld
from vlmbias.core.config import ConfigError

Dictionary = Mapping[str, Mapping[str, Sequence[str]]]
OFFICIAL = ("waterbirds", "celeba")


def composite_values(dictionary: Dictionary, factors: Sequence[str]) -> list[tuple[str, list[str]]]:
    """[(composite value name, descriptions)] of ``factors`` (none: one value, no description)."""
    unknown = [f for f in factors if f not in dictionary]
    if unknown:  # the official code drops unknown factors silently; a misspelt one is an error here
        raise ConfigError(f"unknown attribute(s) {unknown}; the dictionary has {sorted(dictionary)}")
    out = []
    for combo in itertools.product(*(list(dictionary[f].items()) for f in factors)):
        name = "+".join(v for v, _ in combo) or "none"
        descriptions = [", ".join(p for p in parts if p)
                        for parts in itertools.product(*(list(d) for _, d in combo))]
        out.append((name, descriptions))
    return out


def prompt(main_template: str, word: str, description: str) -> str:
    """``main(word) + ", " + description + "."``, or ``main(word) + "."`` without a description."""
    main = main_template.format(c=word)
    return f"{main}, {description}." if description else f"{main}."


def prompt_set(main_template: str, classnames: Sequence[str], dictionary: Dictionary,
               factors: Sequence[str], generic: str | None = None) -> dict:
    """The prompts of one head, cell by cell: ClassAttr (``generic`` None) has one cell per
    (class, composite value), class-major; PureAttr one per composite value, the class word
    replaced by ``generic``. Each cell's prompts are averaged into one row of the head."""
    values = composite_values(dictionary, factors)
    words = [generic] if generic is not None else list(classnames)
    cells = [{"class": None if generic is not None else w, "z": z, "prompts": [prompt(main_template, w, d) for d in ds]}
             for w in words for z, ds in values]
    return {"classes": list(classnames), "z": [z for z, _ in values], "mode": "pure_attr" if generic else "class_attr",
            "cells": cells}


def official_dictionary(name: str) -> dict:
    """An official attribute dictionary shipped with the package (``waterbirds``, ``celeba``)."""
    if name not in OFFICIAL:
        raise ConfigError(f"no official attribute dictionary {name!r} (shipped: {list(OFFICIAL)})")
    with resources.files("vlmbias.perceptionclip").joinpath(f"attributes/{name}.yaml").open() as f:
        return yaml.safe_load(f)


def read_dictionary(path: str) -> dict:
    """An attribute dictionary from a YAML file: attribute -> value -> list of descriptions."""
    if not os.path.isfile(path):
        raise ConfigError(f"attribute dictionary {path} does not exist")
    with open(path) as f:
        d = yaml.safe_load(f)
    if not isinstance(d, dict) or not all(isinstance(v, dict) and all(isinstance(x, list) for x in v.values())
                                          for v in d.values()):
        raise ConfigError(f"{path}: expected attribute -> value -> [descriptions]")
    return d


def toy_dictionary(world: str) -> dict:
    """The toy world's attribute dictionaries, in the official format, from its own vocabulary:
    ``waterbirds``: simple_background (land: its land places, water: its water places) and
    background (others + every outdoor place, as its captions say them); ``celeba``: gender,
    age and skin tone (race) as its face captions name them."""
    if world == "waterbirds":
        phrases = toyworld.place_phrases()
        return {
            "simple_background": {"land": [phrases[p] for p in toyworld.LAND_PLACES],
                                  "water": [phrases[p] for p in toyworld.WATER_PLACES]},
            "background": {"others": [""], **{p: [phrases[p]] for p in sorted(phrases)}},
        }
    if world == "celeba":
        return {
            "gender": {"not_sure": [""], "female": ["a woman"], "male": ["a man"]},
            "age": {"not_sure": [""], **{a: [a] for a in toyworld.AGES}},
            "race": {"others": [""], **{t: [f"{t} skin"] for t in dict.fromkeys(toyworld.SKIN_TONES)}},
        }
    raise ConfigError(f"no toy attribute dictionary for {world!r} (toy: waterbirds, celeba)")


def dictionary(spec: str, world: str) -> dict:
    """``toy`` (generated from the toy world), ``official`` (shipped), or a YAML file path."""
    if spec == "toy":
        return toy_dictionary(world)
    if spec == "official":
        return official_dictionary(world)
    return read_dictionary(spec)

"""B2T's zero-shot debiasing prompts (t12; research notes §1.6): a CLIP classifies with class
embeddings averaged over (prompt templates x class templates), the class templates being

* base: ``{c}`` alone;
* + group names: the spurious groups' names (config: ``{c} on land``, ``{c} on water``);
* + B2T-neg: built from the keywords with a NEGATIVE score in t11 (a control);
* + B2T-pos: built from the keywords with a positive score (the discovered biases).

The class templates of the keywords are not written by hand: a keyword becomes ``{c} <the phrase
the captions say it in>`` when the captions put it after a preposition ("in a bamboo forest"),
and ``<keyword> {c}`` otherwise (an adjective: "gray {c}"), the two forms of the paper's table.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from vlmbias.b2t.keywords import holds
from vlmbias.b2t.plan import class_list
from vlmbias.clip.embed import load_embeddings
from vlmbias.clip.load import load_clip
from vlmbias.clip.templates import templates as template_set
from vlmbias.clip.zeroshot import encode_texts
from vlmbias.core.device import pick_device
from vlmbias.core.io import write_json
from vlmbias.perceptionclip.infer import group_metrics

_PREP = r"(?:in|on|with|at|near|by)"


def keyword_template(keyword: str, captions: Sequence[str]) -> str:
    """``{c} <prepositional phrase>`` when the captions say the keyword right after a preposition
    (with its article; the most common such phrase), else ``<keyword> {c}``."""
    pattern = re.compile(rf"\b({_PREP} (?:(?:a|an|the) )?){re.escape(keyword)}(?!\w)", re.IGNORECASE)
    phrases = Counter(m.group(0).lower() for c in captions for m in pattern.finditer(c))
    if phrases:
        return "{c} " + phrases.most_common(1)[0][0]
    return keyword.lower() + " {c}"


def class_templates(keywords: Mapping, captions: Sequence[str], sign: int, per_class: int,
                    classnames: Sequence[str] = ()) -> list[str]:
    """The class templates of the ``per_class`` strongest keywords of one sign of every class.
    Keywords that hold a class name ("waterbird" in "white waterbird") are skipped: the prompt
    already names the class, and naming the other one would make the prompt ambiguous."""
    chosen = []
    for res in keywords["classes"].values():
        rows = [r for r in res["keywords"] if (r["score"] > 0) == (sign > 0) and r["score"] != 0
                and not any(holds(r["keyword"], c) or holds(c, r["keyword"]) for c in classnames)]
        rows.sort(key=lambda r: -abs(r["score"]))
        chosen += [r["keyword"] for r in rows[:per_class]]
    return list(dict.fromkeys(keyword_template(k, captions) for k in dict.fromkeys(chosen)))


def prompts(classnames: Sequence, class_tmpls: Sequence[str], prompt_tmpls: Sequence) -> list[list[str]]:
    """Per class: every prompt template applied to every class template with every name of the
    class filled in (a class is a name or a list of names, as the paper's CelebA classes;
    prompt templates are callables from open_clip's template sets, or format strings with one {})."""
    out = []
    for names in classnames:
        texts = [t.format(c=c) for c in ([names] if isinstance(names, str) else names) for t in class_tmpls]
        out.append([p(t) if callable(p) else p.format(t) for p in prompt_tmpls for t in texts])
    return out


def prompt_sets(task: Mapping, keywords: Mapping | None, captions: Sequence[str], options: Mapping) -> dict[str, list[str]]:
    """The class templates of the four rows: the configured ones where ``class_templates`` gives
    them for the task (the paper's Table 8, kept as data), else built from the keywords."""
    key, n = task["task"], int(options.get("keywords_per_class", 5))
    given = (options.get("class_templates") or {}).get(key, {})
    names = [w for c in class_names(task, options) for w in ([c] if isinstance(c, str) else c)]
    return {"base": ["{c}"],
            "group_names": ["{c}"] + list((options.get("group_templates") or {}).get(key, [])),
            "b2t_neg": list(given["b2t_neg"]) if "b2t_neg" in given
            else ["{c}"] + class_templates(keywords, captions, -1, n, names),
            "b2t_pos": list(given["b2t_pos"]) if "b2t_pos" in given
            else ["{c}"] + class_templates(keywords, captions, +1, n, names)}


def class_names(task: Mapping, options: Mapping) -> list:
    """The names the prompts give each class: ``class_names`` of the options for the task, else
    the task's classes."""
    classes = class_list(task)
    names = (options.get("class_names") or {}).get(task["task"], classes)
    if len(names) != len(classes):
        raise ValueError(f"b2t.zero_shot.class_names.{task['task']}: {len(names)} classes, the task has "
                         f"{len(classes)} ({classes})")
    return list(names)


def zero_shot(task: Mapping, keywords: Mapping | None, captions: Sequence[str], embeddings_path: str, clip_spec: Mapping,
              clip_weights: str | None, clip_name: str, options: Mapping, out_path: str, device: str = "auto",
              log: Callable[[str], None] = print) -> dict:
    """Worst-group and average accuracy of every prompt set on the task's evaluation split."""
    emb = load_embeddings(embeddings_path)
    groups = torch.tensor([2 * int(y) + int(m[task["group_attribute"]]) for y, m in zip(emb.labels.tolist(), emb.metadata)])
    conf = groups % 2
    bundle = load_clip(clip_spec, checkpoint=clip_weights, device=pick_device(device), name=clip_name)
    tmpls = template_set(options.get("templates", "toy"))
    rows = {}
    for name, class_tmpls in prompt_sets(task, keywords, captions, options).items():
        per_class = prompts(class_names(task, options), class_tmpls, tmpls)
        weights = torch.stack([F.normalize(encode_texts(bundle, ps).mean(0), dim=-1) for ps in per_class], dim=1)
        pred = (emb.features @ weights).argmax(1)
        m = group_metrics(pred, emb.labels, conf, len(class_list(task)))
        rows[name] = {"class_templates": class_tmpls, "n_prompts": sum(len(p) for p in per_class), **m}
        log(f"{task['task']} {name}: worst {m['worst']:.1f} avg {m['avg']:.1f} ({class_tmpls[1:6]})")
    given = (options.get("class_templates") or {}).get(task["task"])
    out = {"task": task["task"], "dataset": task["dataset"], "split": task["test_split"], "clip": clip_name,
           "templates": options.get("templates", "toy"), "template_source": "config" if given else "keywords",
           "n_wrong": sum(c["n_wrong"] for c in keywords["classes"].values()) if keywords else None, "rows": rows}
    write_json(out_path, out)
    return out

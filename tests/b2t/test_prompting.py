"""B2T's debiasing prompts (t12): class templates from keywords, from the config, and the prompts."""

import pytest

from vlmbias.b2t import prompting as P

CAPTIONS = ["a photo of a duck in a bamboo forest.", "a photo of a white duck in a bamboo forest.",
            "a gray gull on a lake.", "a gray sparrow, a landbird, on the lake.", "a sparrow in a forest."]


def keywords(**classes):
    return {"classes": {c: {"n_wrong": len(rows), "keywords": [{"keyword": k, "score": s} for k, s in rows]}
                        for c, rows in classes.items()}}


def test_keyword_template_keeps_the_captions_preposition():
    assert P.keyword_template("bamboo forest", CAPTIONS) == "{c} in a bamboo forest"
    assert P.keyword_template("lake", CAPTIONS) == "{c} on a lake"       # the most common phrase of the two
    assert P.keyword_template("gray", CAPTIONS) == "gray {c}"             # an adjective: before the class
    assert P.keyword_template("Ocean", CAPTIONS) == "ocean {c}"           # never seen: the keyword itself


def test_class_templates_by_sign_strength_and_without_class_names():
    kw = keywords(waterbird=[("bamboo forest", 4.0), ("white waterbird", 3.0), ("gray", 0.5), ("duck", -1.0)],
                  landbird=[("lake", 2.0), ("sparrow", -3.0), ("forest", 1.0)])
    pos = P.class_templates(kw, CAPTIONS, +1, 1, ["landbird", "waterbird"])
    assert pos == ["{c} in a bamboo forest", "{c} on a lake"]             # the strongest of each class
    assert P.class_templates(kw, CAPTIONS, +1, 2, ["landbird", "waterbird"]) == [
        "{c} in a bamboo forest", "gray {c}", "{c} on a lake", "{c} in a forest"]   # "white waterbird" skipped
    assert P.class_templates(kw, CAPTIONS, -1, 5) == ["duck {c}", "sparrow {c}"]
    assert P.class_templates(keywords(a=[], b=[]), CAPTIONS, +1, 5) == []


def test_prompts_cross_templates_class_templates_and_names():
    out = P.prompts(["landbird", ["blond hair", "celebrity of blond hair"]], ["{c}", "{c} man"],
                    ["a photo of a {}.", lambda c: f"art of the {c}."])
    assert out[0] == ["a photo of a landbird.", "a photo of a landbird man.", "art of the landbird.",
                      "art of the landbird man."]
    assert len(out[1]) == 2 * 2 * 2 and "art of the celebrity of blond hair man." in out[1]


def test_prompt_sets_from_keywords_or_from_the_config():
    task = {"task": "waterbirds", "classes": ["landbird", "waterbird"]}
    kw = keywords(waterbird=[("bamboo forest", 4.0), ("duck", -1.0)], landbird=[("lake", 2.0)])
    sets = P.prompt_sets(task, kw, CAPTIONS, {"group_templates": {"waterbirds": ["{c} on land"]}})
    assert sets == {"base": ["{c}"], "group_names": ["{c}", "{c} on land"], "b2t_neg": ["{c}", "duck {c}"],
                    "b2t_pos": ["{c}", "{c} in a bamboo forest", "{c} on a lake"]}
    given = {"class_templates": {"waterbirds": {"b2t_pos": ["{c} on the forest", "{c} with woods"]}}}
    sets = P.prompt_sets(task, kw, CAPTIONS, given)
    assert sets["b2t_pos"] == ["{c} on the forest", "{c} with woods"] and sets["b2t_neg"] == ["{c}", "duck {c}"]


def test_class_names_must_match_the_task():
    task = {"task": "celeba", "classes": ["not blond", "blond"]}
    two = [["non blond hair", "celebrity of non blond hair"], ["blond hair", "celebrity of blond hair"]]
    assert P.class_names(task, {"class_names": {"celeba": two}}) == two
    assert P.class_names(task, {}) == ["not blond", "blond"]
    with pytest.raises(ValueError, match="class_names.celeba"):
        P.class_names(task, {"class_names": {"celeba": [["blond hair"]]}})

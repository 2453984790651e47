"""PerceptionCLIP: prompt composition against the official examples (research notes §1.2, §1.6),
the two-step inference identities, group metrics."""

import pytest
import torch

from vlmbias import toyworld
from vlmbias.core.config import ConfigError
from vlmbias.perceptionclip import infer as I
from vlmbias.perceptionclip import prompts as P

WB = P.official_dictionary("waterbirds")
CE = P.official_dictionary("celeba")


def test_official_examples():
    ps = P.prompt_set("a photo of a {c}", ["landbird", "waterbird"], WB, ["background"])
    assert len(ps["z"]) == 12 and ps["z"][0] == "others"
    first = ps["cells"][0]
    assert first == {"class": "landbird", "z": "others", "prompts": ["a photo of a landbird."]}
    assert ps["cells"][2]["prompts"] == ["a photo of a landbird, on water."]
    assert [c["class"] for c in ps["cells"]] == ["landbird"] * 12 + ["waterbird"] * 12   # class-major
    # CelebA: the scripts' template ends in a period; empty parts are skipped
    ps = P.prompt_set("a photo of a celebrity with {c}.", ["dark hair", "blond hair"], CE, ["gender", "age"])
    by_z = {c["z"]: c["prompts"] for c in ps["cells"] if c["class"] == "blond hair"}
    assert by_z["female+not_sure"] == ["a photo of a celebrity with blond hair., female."]
    assert by_z["not_sure+not_sure"] == ["a photo of a celebrity with blond hair.."]
    assert by_z["male+old"] == ["a photo of a celebrity with blond hair., male, old."]
    sizes = [len(P.composite_values(CE, f)) for f in (["gender"], ["gender", "age"], ["gender", "age", "race"])]
    assert sizes == [3, 9, 36]
    # PureAttr: the generic word instead of the class
    pure = P.prompt_set("a photo of a {c}", ["landbird", "waterbird"], WB, ["simple_background"], generic="bird")
    assert [c["prompts"] for c in pure["cells"]] == [["a photo of a bird, on land."], ["a photo of a bird, on water."]]


def test_several_descriptions_per_value_and_unknown_factors():
    d = {"orientation": {"upright": ["", "upright"], "upside_down": ["upside-down", "inverted"]}}
    (_, up), (_, down) = P.composite_values(d, ["orientation"])
    assert up == ["", "upright"] and down == ["upside-down", "inverted"]
    assert P.composite_values(d, []) == [("none", [""])]
    with pytest.raises(ConfigError, match="color-scheme"):   # the official code drops it silently
        P.composite_values(d, ["color-scheme"])


def test_toy_dictionaries_come_from_the_toy_world():
    wb = P.toy_dictionary("waterbirds")
    assert set(wb["simple_background"]) == {"land", "water"}
    land = wb["simple_background"]["land"]
    assert land == [toyworld.place_phrases()[p] for p in toyworld.LAND_PLACES]
    assert wb["background"]["others"] == [""] and len(wb["background"]) > 10
    ce = P.toy_dictionary("celeba")
    assert list(ce["age"]) == ["not_sure", *toyworld.AGES]
    assert list(ce) == ["gender", "age", "race"]


def random_scores(n=50, y=2, z=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 10 * torch.randn(n, y, z, generator=g)


def test_class_attr_at_tau_one_is_the_logsumexp_ensemble():
    f = random_scores()
    two_step = I.log_p_y(f, I.class_attr_log_pz(f, 1.0))
    ensemble = torch.logsumexp(f, dim=2)
    assert torch.allclose(two_step - two_step.logsumexp(1, keepdim=True),
                          ensemble - ensemble.logsumexp(1, keepdim=True), atol=1e-5)
    assert torch.equal(two_step.argmax(1), ensemble.argmax(1))
    # another temperature is another decision rule (the method's intervention)
    assert not torch.allclose(I.log_p_y(f, I.class_attr_log_pz(f, 5.0)), two_step)


def test_one_value_is_plain_zero_shot_and_probabilities_sum_to_one():
    f = random_scores(z=1)
    for log_pz in (I.class_attr_log_pz(f, 3.0), I.pure_attr_log_pz(f[:, 0, :], 0.5)):
        assert torch.allclose(log_pz, torch.zeros_like(log_pz))
        assert torch.equal(I.log_p_y(f, log_pz).argmax(1), f[:, :, 0].argmax(1))
    f = random_scores(z=4)
    assert torch.allclose(I.log_p_y(f, I.class_attr_log_pz(f, 2.0)).exp().sum(1), torch.ones(50), atol=1e-5)
    # no overflow where exp(f) would (the official code's plain exp)
    big = 1000 * random_scores(z=4)
    assert torch.isfinite(I.log_p_y(big, I.class_attr_log_pz(big, 1.0))).all()


def test_group_metrics_and_attribute_marginal():
    labels = torch.tensor([0, 0, 1, 1, 1, 0])
    groups = torch.tensor([0, 1, 0, 1, 1, 0])
    pred = torch.tensor([0, 1, 1, 1, 0, 0])
    m = I.group_metrics(pred, labels, groups)
    assert m["cells"] == {"0/0": 100.0, "0/1": 0.0, "1/0": 100.0, "1/1": 50.0}
    assert m["avg"] == pytest.approx(400 / 6) and m["worst"] == 0.0 and m["gap"] == pytest.approx(m["avg"])
    log_pz = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.4]]))
    values, p = I.attribute_marginal(log_pz, ["f+y", "f+o", "m+y", "m+o"], 0)
    assert values == ["f", "m"] and torch.allclose(p, torch.tensor([[0.3, 0.7]]))

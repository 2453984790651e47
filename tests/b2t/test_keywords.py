"""B2T's keywords (YAKE), CLIP score, subgroup accuracy and tags."""

import pytest
import torch

from vlmbias.b2t import keywords as K


def test_yake_on_joined_captions():
    caps = ["a bird in the forest.", "a duck on a bamboo forest.", "a waterbird in a forest.", "a gull in the woods."]
    kws = K.extract_keywords(caps)
    assert kws[:2] == ["forest", "bamboo forest"] and "woods" in kws and len(kws) <= 20
    assert K.extract_keywords(["", "  "]) == []
    assert len(K.extract_keywords([f"word{i} thing{i} place{i}." for i in range(60)], top=5)) <= 5


def test_score_is_the_difference_of_mean_similarities():
    e = torch.eye(4)
    wrong = torch.stack([e[0] * 2, e[0] + 0.1 * e[1]])       # near text 0
    correct = torch.stack([e[1], e[1] * 3])                   # near text 1
    s = K.clip_scores(wrong, correct, torch.stack([e[0], e[1], e[2]]))
    cos = lambda a, b: float(torch.nn.functional.cosine_similarity(a, b, dim=0))  # noqa: E731
    expected0 = 100 * ((cos(wrong[0], e[0]) + cos(wrong[1], e[0])) / 2 - 0.0)
    assert s[0] == pytest.approx(expected0, rel=1e-5) and s[1] < 0 and s[2] == pytest.approx(0.0, abs=1e-5)
    assert torch.equal(K.clip_scores(torch.zeros(0, 4), correct, e[:1]), -K.clip_scores(correct, torch.zeros(0, 4), e[:1]))


def test_subgroup_accuracy_whole_words_escaped():
    caps = ["a bird in the Forest.", "a bird in the rainforest.", "forest bird", "a c++ book", "a bird"]
    ok = [True, False, False, True, True]
    assert K.subgroup_accuracy("forest", caps, ok) == (0.5, 2)   # not "rainforest"; case-insensitive
    assert K.subgroup_accuracy("c++", caps, ok) == (1.0, 1)       # escaped: no regex error
    assert K.subgroup_accuracy("ocean", caps, ok) == (None, 0)


def test_tags():
    tags = K.bias_tags({"waterbird": {"forest": 2.0, "bird": -0.1, "person": 0.3},
                        "landbird": {"beach": 2.5, "person": 0.1, "bird": -1.5}})
    assert tags["waterbird"] == {"forest": "S", "bird": "", "person": "M"}
    assert tags["landbird"] == {"beach": "S", "person": "M", "bird": ""}

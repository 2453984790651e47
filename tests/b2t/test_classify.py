"""The classifier under audit: our state dict, a whole pickled module (with the warning), or
the model as it is built with its own pretrained weights (nothing trained)."""

import pytest
import torch

from vlmbias.b2t import classify

MODEL = {"builder": "timm", "arch": "resnet18", "kwargs": {"channels": [8, 8, 8, 8], "stem_width": 8}}


def spec(**kw):
    return {"model": MODEL, "recipe": {"input_size": 32}, "classes": ["a", "b", "c"], **kw}


def test_load_state_dict_pickled_module_and_pretrained(tmp_path):
    torch.manual_seed(0)
    built = classify.load(spec(pretrained=True), None)   # the model's own weights (here: none, random)
    x = torch.randn(2, 3, 32, 32)
    assert built.eval()(x).shape == (2, 3)
    torch.save(built.state_dict(), tmp_path / "model.pt")
    ours = classify.load(spec(), str(tmp_path / "model.pt")).eval()
    assert torch.allclose(ours(x), built(x))
    torch.save(built, tmp_path / "whole.pth")
    with pytest.warns(UserWarning, match="unpickling"):
        whole = classify.load(spec(checkpoint=str(tmp_path / "whole.pth")), str(tmp_path / "whole.pth")).eval()
    assert torch.allclose(whole(x), built(x))
    torch.save({"not": "a module"}, tmp_path / "dict.pth")
    with pytest.warns(UserWarning), pytest.raises(TypeError, match="dict.pth"):
        classify.load(spec(checkpoint="x"), str(tmp_path / "dict.pth"))

"""ClipCap: the official key layout loads (the attention buffers newer transformers rejects are
dropped), a toy tokenizer trains on captions, a tiny ClipCap learns to caption and decodes
greedily up to the stop token."""

import pytest
import torch

from vlmbias.b2t import clipcap as C

pytestmark = pytest.mark.usefixtures("one_thread")
CAPTIONS = ["a photo of a brown sparrow in a forest.", "a photo of a white swan on a lake."]


@pytest.fixture(scope="module")
def tokenizer():
    return C.train_tokenizer(CAPTIONS * 20 + ["a photo of a red ball on grass."], vocab_size=300)


def test_tokenizer_round_trip(tokenizer):
    ids = tokenizer.encode(CAPTIONS[0])
    assert tokenizer.decode(ids) == CAPTIONS[0] and len(ids) < len(CAPTIONS[0].split()) * 3
    assert tokenizer.pad_token == C.PAD and tokenizer.eos_token == C.EOS


def test_official_layout_loads_without_the_obsolete_buffers(tmp_path):
    torch.manual_seed(0)
    model = C.build({"n_embd": 32, "n_layer": 2, "n_head": 2, "vocab_size": 100, "n_positions": 64}, clip_dim=16)
    state = dict(model.state_dict())
    assert {"clip_project.model.0.weight", "clip_project.model.2.weight", "gpt.lm_head.weight"} <= set(state)
    assert state["clip_project.model.0.weight"].shape == (32 * 10 // 2, 16)
    for i in range(2):  # what a checkpoint written with transformers ~4.10 also holds
        state[f"gpt.transformer.h.{i}.attn.bias"] = torch.ones(1, 1, 64, 64)
        state[f"gpt.transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    torch.save(state, tmp_path / "official.pt")
    other = C.build({"n_embd": 32, "n_layer": 2, "n_head": 2, "vocab_size": 100, "n_positions": 64}, clip_dim=16)
    dropped = C.load_state(other, str(tmp_path / "official.pt"))
    assert len(dropped) == 4 and torch.equal(other.gpt.lm_head.weight, model.gpt.lm_head.weight)
    state["gpt.transformer.h.0.mlp.extra"] = torch.ones(1)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(RuntimeError, match="mlp.extra"):
        C.load_state(other, str(tmp_path / "bad.pt"))


def test_a_tiny_clipcap_learns_to_caption(tokenizer):
    torch.manual_seed(0)
    model = C.build({"n_embd": 48, "n_layer": 1, "n_head": 2, "vocab_size": len(tokenizer), "n_positions": 48},
                    clip_dim=8, prefix_length=4)
    feats = torch.eye(8)[:2] * 3
    enc = tokenizer(CAPTIONS, padding=True, return_tensors="pt")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = model.loss(enc["input_ids"], feats, enc["attention_mask"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.05
    assert C.generate(model, tokenizer, feats, batch_size=1) == CAPTIONS
    assert C.generate(model, tokenizer, feats) == CAPTIONS  # batched: the same
    short = C.generate(model, tokenizer, feats, max_tokens=3)
    assert all(not s.endswith(".") and len(tokenizer.encode(s)) <= 3 for s in short)

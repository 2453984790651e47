"""ClipCap (Mokady et al., 2021), the captioner B2T uses (research notes §1.2, §3), built from
transformers' GPT-2.

The MLP variant: a CLIP image embedding (``encode_image``, NOT normalised) goes through
``clip_project`` = Linear(d, k·e/2) - Tanh - Linear(k·e/2, k·e) to k = ``prefix_length`` (10)
prefix embeddings of GPT-2's width e; GPT-2 continues the prefix with the caption. The module
and parameter names are the official ones (``clip_project.model.{0,2}``, ``gpt.*``), so the
official Conceptual Captions weights load as they are, but for the attention buffers
(``attn.bias``, ``attn.masked_bias``) that newer transformers no longer keeps: those keys are
dropped (and only those).

Captions are decoded as B2T's ``generate2``: greedy (its top-p filter never drops the top
token), stopping at the first "." (kept) or after 67 tokens; batched here.

Tokenizers: the official GPT-2 BPE from a local folder (``vocab.json`` + ``merges.txt``, or a
``tokenizer.json``), or a byte-level BPE trained on the toy world's captions with the
``tokenizers`` library (:func:`train_tokenizer`).
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

OBSOLETE_KEYS = (".attn.bias", ".attn.masked_bias")  # GPT-2 buffers older transformers saved
PAD, EOS = "<pad>", "<|endoftext|>"


class ClipCaptionModel(nn.Module):
    """CLIP embedding -> ``prefix_length`` GPT-2 input embeddings (an MLP) -> GPT-2."""

    def __init__(self, gpt: GPT2LMHeadModel, clip_dim: int = 512, prefix_length: int = 10):
        super().__init__()
        self.prefix_length = prefix_length
        self.gpt = gpt
        width = gpt.transformer.wte.weight.shape[1]
        self.clip_project = nn.Module()
        self.clip_project.model = nn.Sequential(nn.Linear(clip_dim, width * prefix_length // 2), nn.Tanh(),
                                                nn.Linear(width * prefix_length // 2, width * prefix_length))

    @property
    def width(self) -> int:
        return self.gpt.transformer.wte.weight.shape[1]

    def prefix(self, clip_features: torch.Tensor) -> torch.Tensor:
        """[B, prefix_length, width]."""
        return self.clip_project.model(clip_features.float()).view(-1, self.prefix_length, self.width)

    def forward(self, tokens: torch.Tensor, clip_features: torch.Tensor, mask: torch.Tensor | None = None):
        """GPT-2's output on [prefix ; caption tokens]; ``mask`` [B, L] marks the real tokens."""
        emb = torch.cat([self.prefix(clip_features), self.gpt.transformer.wte(tokens)], dim=1)
        if mask is not None:
            mask = torch.cat([torch.ones(len(tokens), self.prefix_length, dtype=mask.dtype, device=mask.device),
                              mask], dim=1)
        return self.gpt(inputs_embeds=emb, attention_mask=mask)

    def loss(self, tokens: torch.Tensor, clip_features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of each caption token given the prefix and the tokens before it (the
        padding is not scored), as ClipCap's training."""
        logits = self(tokens, clip_features, mask).logits[:, self.prefix_length - 1:-1]
        target = tokens.masked_fill(mask == 0, -100)
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)


def build(gpt_config: dict, clip_dim: int, prefix_length: int = 10) -> ClipCaptionModel:
    """A randomly initialised ClipCap; ``gpt_config`` holds GPT2Config's keys (n_embd, n_layer,
    n_head, vocab_size, n_positions...)."""
    config = {"bos_token_id": None, "eos_token_id": None, **gpt_config}  # GPT-2's 50256 only with its vocabulary
    return ClipCaptionModel(GPT2LMHeadModel(GPT2Config(**config)), clip_dim, prefix_length)


def official_gpt_config(vocab_size: int = 50257) -> dict:
    """GPT-2 base, the language model of ClipCap's released weights."""
    return {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": vocab_size, "n_positions": 1024,
            "bos_token_id": 50256, "eos_token_id": 50256}


def load_state(model: ClipCaptionModel, path: str) -> list[str]:
    """Load a ClipCap state dict (the official file, or one of ours); returns the keys dropped
    (the attention buffers newer transformers rejects). Any other mismatch is an error."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    dropped = [k for k in state if k.endswith(OBSOLETE_KEYS)]
    model.load_state_dict({k: v for k, v in state.items() if k not in dropped}, strict=True)
    return dropped


def train_tokenizer(texts: Sequence[str], vocab_size: int = 1000) -> PreTrainedTokenizerFast:
    """A byte-level BPE (GPT-2's kind of tokenizer) trained on ``texts``, with an end-of-text
    token and a padding token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS)


def load_tokenizer(path: str) -> PreTrainedTokenizerFast:
    """A tokenizer from a folder: ``tokenizer.json``, or GPT-2's ``vocab.json`` + ``merges.txt``."""
    if os.path.isfile(os.path.join(path, "tokenizer.json")):
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(path, "tokenizer.json"))
    else:
        from transformers import GPT2TokenizerFast  # the official GPT-2 files (no tokenizer.json)

        tok = GPT2TokenizerFast(vocab_file=os.path.join(path, "vocab.json"), merges_file=os.path.join(path, "merges.txt"))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


@torch.no_grad()
def generate(model: ClipCaptionModel, tokenizer, clip_features: torch.Tensor, max_tokens: int = 67,
             stop: str = ".", batch_size: int = 256, progress: Callable | None = None) -> list[str]:
    """Greedy captions (B2T's ``generate2``), stopping at ``stop`` (kept) or ``max_tokens``."""
    model.eval()
    stop_id = tokenizer.encode(stop)[-1]
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(clip_features), batch_size):
        feats = clip_features[s:s + batch_size].to(device)
        emb = model.prefix(feats)
        done = torch.zeros(len(feats), dtype=torch.bool, device=device)
        tokens = torch.zeros(len(feats), 0, dtype=torch.long, device=device)
        cache = None
        step_in = emb
        for _ in range(max_tokens):
            o = model.gpt(inputs_embeds=step_in, cache=cache, use_cache=True)
            cache = o.cache
            nxt = o.logits[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, stop_id), nxt)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            done |= nxt == stop_id
            if bool(done.all()):
                break
            step_in = model.gpt.transformer.wte(nxt)[:, None]
        for row in tokens.tolist():
            cut = row.index(stop_id) + 1 if stop_id in row else len(row)
            out.append(tokenizer.decode(row[:cut]).strip())
        if progress is not None:
            progress(len(feats))
    return out

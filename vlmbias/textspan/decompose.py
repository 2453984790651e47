"""Exact direct-contribution decomposition of an open_clip ViT image embedding (TextSpan, §1).

The image embedding is ``y = ln_post(r) @ proj`` with ``r`` the final CLS residual, and ``r`` is a
sum of 2L+1 terms: the embedding after ``ln_pre`` (stored with the MLPs, as "MLP 0", as the
official code does), L attention outputs and L MLP outputs; an attention output is a sum over
heads and source tokens. With the image's own mean mu and std sigma, ``ln_post`` is linear, and
every component c gets the reference code's equal share of the LN's additive terms:

    phi(c) = [ gamma * (c - mu / S) / sigma + beta / S ] @ proj / ||y||

with S = K = 2L+1 for a layer-level term, K*H for a head (which also takes b_O / H of its
layer's out-proj bias), K*N*H for one (token, head) cell (bias b_O / (N*H)). The phi of all
components sum exactly to the L2-normalised ``encode_image`` output.

Done on STOCK open_clip with forward hooks (no vendored model): ``ln_pre`` (embedding term),
each block's ``ln_1`` (attention input: the CLS query row's per-head outputs are recomputed from
``in_proj``; the [B, N, N, H, d] tensor of the reference is never formed), each block's ``mlp``
(CLS row), and a pre-hook on ``ln_post`` (mu, sigma). ``ln_post`` and ``proj`` fold into one
[d_h, d'] matrix per head (:class:`Fold`), so heads are kept in head space (o_h, d_h values)
and rebuilt exactly in the output space when needed.

:class:`Stats` accumulates, in one streaming pass, the mean of every component and the
uncentred second moments of the heads of the last layers (fp64) -- all that mean-ablations and
TextSpan (``vlmbias.textspan.span``) need. :class:`Store` keeps the compact per-image data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer
from torch import nn

from vlmbias.core.io import atomic_path


class DecompositionError(ValueError):
    pass


def _visual(model: nn.Module) -> nn.Module:
    visual = getattr(model, "visual", model)
    if not isinstance(visual, VisionTransformer):
        raise DecompositionError(f"decomposition needs an open_clip VisionTransformer image tower, "
                                 f"got {type(visual).__name__}")
    if visual.attn_pool is not None or visual.pool_type != "tok":
        raise DecompositionError(f"decomposition needs CLS-token pooling without attentional pooling "
                                 f"(pool_type={visual.pool_type!r}, attn_pool={visual.attn_pool is not None})")
    if visual.proj is None:
        raise DecompositionError("the image tower has no projection (proj is None)")
    for i, blk in enumerate(visual.transformer.resblocks):
        if type(blk) is not ResidualAttentionBlock or not isinstance(blk.attn, nn.MultiheadAttention):
            raise DecompositionError(f"block {i} is {type(blk).__name__}; only open_clip's "
                                     f"ResidualAttentionBlock with nn.MultiheadAttention is supported")
        if not blk.attn._qkv_same_embed_dim or blk.attn.in_proj_bias is None:
            raise DecompositionError(f"block {i}: attention without a packed in_proj (weight and bias)")
    return visual


def _layer_scale(mod: nn.Module, d: int, ref: torch.Tensor) -> torch.Tensor:
    g = getattr(mod, "gamma", None)
    return torch.ones(d, dtype=ref.dtype, device=ref.device) if g is None else g.detach().to(ref.dtype)


@dataclass
class Fold:
    """``ln_post`` (gamma, beta) and ``proj`` folded into per-head matrices, once per model.

    A[l, h] = W_O^{l,h}^T diag(ls_1^l) diag(gamma) P  (d_h x d'): o_h @ A[l, h] is head h's
    output in the (unnormalised) embedding space; head_bias[l] = (ls_1 * b_O) diag(gamma) P;
    gP = gamma @ P and bP = beta @ P carry the LN's mean and bias shares.
    """

    layers: int
    heads: int
    width: int
    head_dim: int
    out_dim: int
    n_tokens: int
    A: torch.Tensor          # [L, H, d_h, d']
    head_bias: torch.Tensor  # [L, d']
    G: torch.Tensor          # [d, d'] = diag(gamma) P
    gP: torch.Tensor         # [d']
    bP: torch.Tensor         # [d']

    @property
    def K(self) -> int:
        return 2 * self.layers + 1

    @classmethod
    def from_model(cls, model: nn.Module, dtype: torch.dtype = torch.float32) -> "Fold":
        visual = _visual(model)
        blocks = visual.transformer.resblocks
        P = visual.proj.detach().to(dtype)
        gamma = visual.ln_post.weight.detach().to(dtype) if visual.ln_post.weight is not None \
            else torch.ones(P.shape[0], dtype=dtype, device=P.device)
        beta = visual.ln_post.bias.detach().to(dtype) if visual.ln_post.bias is not None \
            else torch.zeros(P.shape[0], dtype=dtype, device=P.device)
        G = gamma[:, None] * P
        d = P.shape[0]
        H = blocks[0].attn.num_heads
        dh = d // H
        A, hb = [], []
        for blk in blocks:
            ls = _layer_scale(blk.ls_1, d, G)
            Wo = blk.attn.out_proj.weight.detach().to(dtype) * ls[:, None]  # [d, H*dh]
            A.append(Wo.T.reshape(H, dh, d) @ G)
            bo = blk.attn.out_proj.bias
            hb.append((bo.detach().to(dtype) * ls) @ G if bo is not None else torch.zeros_like(G[0]))
        gh, gw = visual.grid_size
        return cls(layers=len(blocks), heads=H, width=d, head_dim=dh, out_dim=P.shape[1],
                   n_tokens=gh * gw + 1, A=torch.stack(A), head_bias=torch.stack(hb), G=G,
                   gP=gamma @ P, bP=beta @ P)

    def to(self, device=None, dtype=None) -> "Fold":
        kw = {k: getattr(self, k) for k in ("layers", "heads", "width", "head_dim", "out_dim", "n_tokens")}
        return Fold(**kw, **{k: getattr(self, k).to(device=device, dtype=dtype)
                             for k in ("A", "head_bias", "G", "gP", "bP")})

    def state(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_state(cls, state: dict) -> "Fold":
        return cls(**state)


@dataclass
class Batch:
    """Raw per-image quantities of one forward pass (fp32, on the model's device).

    heads: o_h = sum_i alpha_i v_i, the CLS query's per-head attention output before out_proj,
    [B, L, H, d_h]; mlps: embedding + MLP CLS terms projected by G (c @ diag(gamma) P, not yet
    LN-folded), [B, L+1, d']; mu, sigma: ln_post statistics of the final CLS residual; norm:
    ||y|| of the unnormalised embedding; embedding: y / ||y||. tokens (on demand): per source
    token and head alpha_i v_i, [B, L, H, N, d_h].
    """

    heads: torch.Tensor
    mlps: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    norm: torch.Tensor
    embedding: torch.Tensor
    tokens: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.heads.shape[0]


class Decomposer:
    """Forward hooks on a stock open_clip model; ``decomposer(images) -> Batch``.

    ``tokens=True`` also keeps every source token's per-head term (head space) for token maps;
    leave it off for dataset passes.
    """

    def __init__(self, model: nn.Module, tokens: bool = False, fold_dtype: torch.dtype = torch.float32):
        self.visual = _visual(model)
        self.fold = Fold.from_model(self.visual, fold_dtype)
        self.fold_dtype = fold_dtype
        self.tokens = tokens
        self._reset()

    def _reset(self):
        self._emb = None
        self._heads: list[torch.Tensor] = []
        self._tokens: list[torch.Tensor] = []
        self._mlps: list[torch.Tensor] = []
        self._r = None

    def _attn_hook(self, blk):
        H = blk.attn.num_heads
        batch_first = self.visual.transformer.batch_first

        def hook(_mod, _inp, z):
            if not batch_first:
                z = z.transpose(0, 1)
            B, N, d = z.shape
            dh = d // H
            W, b = blk.attn.in_proj_weight, blk.attn.in_proj_bias
            q = F.linear(z[:, 0], W[:d], b[:d]).view(B, H, dh)
            k = F.linear(z, W[d:2 * d], b[d:2 * d]).view(B, N, H, dh)
            v = F.linear(z, W[2 * d:], b[2 * d:]).view(B, N, H, dh)
            alpha = torch.softmax(torch.einsum("bhe,bnhe->bhn", q, k) / math.sqrt(dh), dim=-1)
            self._heads.append(torch.einsum("bhn,bnhe->bhe", alpha, v))
            if self.tokens:
                self._tokens.append(alpha[..., None] * v.permute(0, 2, 1, 3))  # [B, H, N, dh]
        return hook

    def _mlp_hook(self, blk):
        def hook(_mod, _inp, out):
            if not self.visual.transformer.batch_first:
                out = out.transpose(0, 1)
            self._mlps.append(blk.ls_2(out[:, 0]))
        return hook

    def _emb_hook(self, _mod, _inp, out):
        self._emb = out[:, 0]  # ln_pre runs before the transformer: always [B, N, d]

    def _post_hook(self, _mod, args):
        x = args[0]
        self._r = x[:, 0] if x.dim() == 3 else x

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> Batch:
        v = self.visual
        if v.training:
            raise DecompositionError("put the model in eval mode (patch dropout would break the sum)")
        self._reset()
        handles = [v.ln_pre.register_forward_hook(self._emb_hook),
                   v.ln_post.register_forward_pre_hook(self._post_hook)]
        for blk in v.transformer.resblocks:
            handles.append(blk.ln_1.register_forward_hook(self._attn_hook(blk)))
            handles.append(blk.mlp.register_forward_hook(self._mlp_hook(blk)))
        try:
            y = v(images)
        finally:
            for h in handles:
                h.remove()
        if isinstance(y, tuple):
            y = y[0]
        L = self.fold.layers
        if len(self._heads) != L or len(self._mlps) != L or self._emb is None or self._r is None:
            raise DecompositionError(f"hooks fired {len(self._heads)} attention / {len(self._mlps)} MLP times "
                                     f"for {L} blocks (embedding: {self._emb is not None}, ln_post: "
                                     f"{self._r is not None}); is this a stock open_clip ViT?")
        dt = self.fold_dtype
        fold = self.fold.to(device=y.device)
        r = self._r.to(dt)
        mu = r.mean(-1)
        sigma = torch.sqrt(r.var(-1, unbiased=False) + v.ln_post.eps)
        y = y.to(dt)
        norm = y.norm(dim=-1)
        mlps = torch.stack([self._emb] + self._mlps, dim=1).to(dt) @ fold.G
        heads = torch.stack(self._heads, dim=1).to(dt)
        tokens = torch.stack(self._tokens, dim=1).to(dt) if self.tokens else None
        self._reset()
        return Batch(heads=heads, mlps=mlps, mu=mu, sigma=sigma, norm=norm, embedding=y / norm[:, None],
                     tokens=tokens)


# --- folding: head space -> normalised contributions in the output space -----------------


def _scale(mu, sigma, norm):
    return 1.0 / (sigma * norm)


def phi_heads(heads: torch.Tensor, mu, sigma, norm, fold: Fold, layers: Sequence[int] | None = None) -> torch.Tensor:
    """Normalised per-head contributions [B, L', H, d'] of ``layers`` (all when None); ``heads`` is
    [B, L, H, d_h] over all layers (or [B, L', H, d_h] already restricted to ``layers``)."""
    layers = list(range(fold.layers)) if layers is None else list(layers)
    if heads.shape[1] != len(layers):
        heads = heads[:, layers]
    dt = fold.A.dtype
    A = fold.A[layers]
    out = torch.einsum("blhe,lheo->blho", heads.to(dt), A)
    H, K = fold.heads, fold.K
    out = out + fold.head_bias[layers][None, :, None] / H
    s = _scale(mu, sigma, norm).to(dt)[:, None, None, None]
    return (out - (mu.to(dt)[:, None, None, None] / (K * H)) * fold.gP) * s \
        + fold.bP / (K * H) / norm.to(dt)[:, None, None, None]


def phi_layers(heads: torch.Tensor, mu, sigma, norm, fold: Fold) -> torch.Tensor:
    """Normalised per-layer attention contributions (heads summed) [B, L, d']."""
    dt = fold.A.dtype
    B, L, H, dh = heads.shape
    out = torch.einsum("blk,lko->blo", heads.to(dt).reshape(B, L, H * dh),
                       fold.A.reshape(L, H * dh, fold.out_dim)) + fold.head_bias[None]
    s = _scale(mu, sigma, norm).to(dt)[:, None, None]
    return (out - (mu.to(dt)[:, None, None] / fold.K) * fold.gP) * s + fold.bP / fold.K / norm.to(dt)[:, None, None]


def phi_mlps(mlps: torch.Tensor, mu, sigma, norm, fold: Fold) -> torch.Tensor:
    """Normalised embedding + MLP contributions [B, L+1, d'] from ``Batch.mlps``."""
    dt = mlps.dtype
    s = _scale(mu, sigma, norm).to(dt)[:, None, None]
    return (mlps - (mu.to(dt)[:, None, None] / fold.K) * fold.gP.to(dt)) * s \
        + fold.bP.to(dt) / fold.K / norm.to(dt)[:, None, None]


def phi_tokens(tokens: torch.Tensor, mu, sigma, norm, fold: Fold,
               heads: Iterable[tuple[int, int]] | None = None) -> torch.Tensor:
    """Normalised per-token contributions [B, N, d'], summed over the (layer, head) cells in
    ``heads`` (all when None); ``tokens`` is ``Batch.tokens`` [B, L, H, N, d_h]. Token 0 is CLS."""
    B, L, H, N, dh = tokens.shape
    dt = fold.A.dtype
    mask = torch.zeros(L, H, dtype=dt, device=tokens.device)
    if heads is None:
        mask[:] = 1
    else:
        for lh in heads:
            mask[lh] = 1
    out = torch.einsum("blhne,lheo,lh->bno", tokens.to(dt), fold.A, mask)
    cells = mask.sum()
    out = out + (mask.sum(1) @ fold.head_bias / (N * H))[None, None]
    S = fold.K * N * H
    s = _scale(mu, sigma, norm).to(dt)[:, None, None]
    return (out - (mu.to(dt)[:, None, None] * cells / S) * fold.gP) * s + fold.bP * cells / S / norm.to(dt)[:, None, None]


def contributions(batch: Batch, fold: Fold) -> dict[str, torch.Tensor]:
    """Every normalised contribution of a batch: heads [B, L, H, d'], mlps [B, L+1, d'] (index 0:
    the embedding term); their sum is ``batch.embedding``."""
    fold = fold.to(device=batch.heads.device)
    return {"heads": phi_heads(batch.heads, batch.mu, batch.sigma, batch.norm, fold),
            "mlps": phi_mlps(batch.mlps, batch.mu, batch.sigma, batch.norm, fold)}


# --- streaming statistics -------------------------------------------------------------------


@dataclass
class Stats:
    """Streaming sums of the normalised contributions over a set of images (fp64).

    Means of every component (embedding/MLPs, heads, per-layer attention) and, for the heads
    of ``cov_layers``, the sum and the uncentred second moment, so that per-head covariances
    and TextSpan's rank-r head subspace follow without keeping any per-image data.
    """

    layers: int
    heads: int
    out_dim: int
    cov_layers: list[int]
    n: int = 0
    sum_mlps: torch.Tensor | None = None      # [L+1, d']
    sum_heads: torch.Tensor | None = None     # [L, H, d']
    sum_embedding: torch.Tensor | None = None  # [d']
    m2_heads: torch.Tensor | None = None      # [L', H, d', d'] sum of phi phi^T

    def __post_init__(self):
        z = lambda *s: torch.zeros(*s, dtype=torch.float64)  # noqa: E731
        L, H, D = self.layers, self.heads, self.out_dim
        self.sum_mlps = z(L + 1, D) if self.sum_mlps is None else self.sum_mlps
        self.sum_heads = z(L, H, D) if self.sum_heads is None else self.sum_heads
        self.sum_embedding = z(D) if self.sum_embedding is None else self.sum_embedding
        self.m2_heads = z(len(self.cov_layers), H, D, D) if self.m2_heads is None else self.m2_heads

    @classmethod
    def for_fold(cls, fold: Fold, cov_layers: Sequence[int]) -> "Stats":
        bad = [l for l in cov_layers if not 0 <= l < fold.layers]
        if bad:
            raise DecompositionError(f"covariance layers {bad} outside 0..{fold.layers - 1}")
        return cls(fold.layers, fold.heads, fold.out_dim, list(cov_layers))

    def to(self, device) -> "Stats":
        """Move the accumulators (e.g. onto the GPU for a pass; back to the CPU to save)."""
        for k in ("sum_mlps", "sum_heads", "sum_embedding", "m2_heads"):
            setattr(self, k, getattr(self, k).to(device))
        return self

    def update(self, heads_phi: torch.Tensor, mlps_phi: torch.Tensor, embedding: torch.Tensor) -> None:
        """Add a batch of normalised contributions (heads [B, L, H, d'], mlps [B, L+1, d']),
        accumulated in fp64 on the accumulators' device."""
        dev = self.sum_heads.device
        h = heads_phi.detach().to(dev, torch.float64)
        self.n += h.shape[0]
        self.sum_heads += h.sum(0)
        self.sum_mlps += mlps_phi.detach().to(dev, torch.float64).sum(0)
        self.sum_embedding += embedding.detach().to(dev, torch.float64).sum(0)
        if self.cov_layers:
            c = h[:, self.cov_layers]
            self.m2_heads += torch.einsum("blhi,blhj->lhij", c, c)

    def merge(self, other: "Stats") -> "Stats":
        if (self.layers, self.heads, self.out_dim, self.cov_layers) != \
                (other.layers, other.heads, other.out_dim, other.cov_layers):
            raise DecompositionError("cannot merge statistics of different shapes")
        out = Stats(self.layers, self.heads, self.out_dim, list(self.cov_layers))
        out.n = self.n + other.n
        for k in ("sum_mlps", "sum_heads", "sum_embedding", "m2_heads"):
            setattr(out, k, getattr(self, k) + getattr(other, k))
        return out

    def _check(self):
        if self.n == 0:
            raise DecompositionError("statistics over zero images")

    @property
    def mean_heads(self) -> torch.Tensor:
        self._check()
        return self.sum_heads / self.n

    @property
    def mean_mlps(self) -> torch.Tensor:
        self._check()
        return self.sum_mlps / self.n

    @property
    def mean_layers(self) -> torch.Tensor:
        return self.mean_heads.sum(1)

    def _cov_index(self, layer: int) -> int:
        try:
            return self.cov_layers.index(layer)
        except ValueError:
            raise DecompositionError(f"no second moments for layer {layer}; kept: {self.cov_layers}") from None

    def second_moment(self, layer: int, head: int | None = None) -> torch.Tensor:
        """Uncentred second moment sum_k phi_k phi_k^T / n: [d', d'] (or [H, d', d'])."""
        self._check()
        m = self.m2_heads[self._cov_index(layer)] / self.n
        return m if head is None else m[head]

    def covariance(self, layer: int, head: int | None = None) -> torch.Tensor:
        """Unbiased covariance of a head's contributions, [d', d'] (or [H, d', d'])."""
        self._check()
        if self.n < 2:
            raise DecompositionError("a covariance needs at least two images")
        i = self._cov_index(layer)
        mean = self.sum_heads[layer] / self.n  # [H, d']
        c = (self.m2_heads[i] - self.n * mean[:, :, None] * mean[:, None, :]) / (self.n - 1)
        return c if head is None else c[head]

    def state(self) -> dict:
        return {k: (v.cpu() if torch.is_tensor(v) else v) for k, v in
                ((k, getattr(self, k)) for k in ("layers", "heads", "out_dim", "cov_layers", "n", "sum_mlps",
                                                 "sum_heads", "sum_embedding", "m2_heads"))}

    @classmethod
    def from_state(cls, state: dict) -> "Stats":
        return cls(**state)


# --- compact per-image storage -----------------------------------------------------------------


class Store:
    """Per-image data kept after the pass: head-space outputs (``dtype``, fp16 by default), the
    summed embedding + MLP contribution and the embedding (fp32, d' each), mu, sigma, ||y||.
    Every head's (and layer's) contribution is rebuilt exactly from these with :class:`Fold`."""

    def __init__(self, dtype: torch.dtype = torch.float16):
        self.dtype = dtype
        self.parts: dict[str, list[torch.Tensor]] = {k: [] for k in
                                                     ("heads", "mlp_sum", "embedding", "mu", "sigma", "norm")}

    def add(self, batch: Batch, mlps_phi: torch.Tensor) -> None:
        p = self.parts
        p["heads"].append(batch.heads.detach().to("cpu", self.dtype))
        p["mlp_sum"].append(mlps_phi.detach().sum(1).to("cpu", torch.float32))
        p["embedding"].append(batch.embedding.detach().to("cpu", torch.float32))
        for k in ("mu", "sigma", "norm"):
            p[k].append(getattr(batch, k).detach().to("cpu", torch.float32))

    def tensors(self) -> dict[str, torch.Tensor]:
        if not self.parts["heads"]:
            raise DecompositionError("no images were decomposed")
        return {k: torch.cat(v) for k, v in self.parts.items()}

    @staticmethod
    def bytes_per_image(fold: Fold, dtype: torch.dtype = torch.float16) -> int:
        esize = torch.empty((), dtype=dtype).element_size()
        return fold.layers * fold.heads * fold.head_dim * esize + 2 * fold.out_dim * 4 + 3 * 4


def reference_bytes_per_image(fold: Fold) -> dict[str, int]:
    """The reference design's cost (official ``compute_prs``, 'head' mode, fp32): the
    [B, N, N, H, d] tensor formed per layer per image, and what it stores per image
    (heads [L, H, d'], MLPs [L+1, d'], CLS->CLS [L, d'])."""
    N, H, d, L, D = fold.n_tokens, fold.heads, fold.width, fold.layers, fold.out_dim
    return {"transient_per_layer": N * N * H * d * 4, "stored": (L * H * D + (L + 1) * D + L * D) * 4}


def reference_layer_terms(blk: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """The reference 'head' mode of one block, for cost comparisons and as a test oracle: the
    [B, N_query, N_source, H, d] per-(query, source, head) attention terms (out-proj bias not
    included), formed for EVERY query token. Memory N*N*H*d per image: tiny models only."""
    B, N, d = z.shape
    H = blk.attn.num_heads
    dh = d // H
    W, b = blk.attn.in_proj_weight, blk.attn.in_proj_bias
    q = F.linear(z, W[:d], b[:d]).view(B, N, H, dh)
    k = F.linear(z, W[d:2 * d], b[d:2 * d]).view(B, N, H, dh)
    v = F.linear(z, W[2 * d:], b[2 * d:]).view(B, N, H, dh)
    attn = torch.softmax(torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(dh), dim=-1)
    x = torch.einsum("bhqk,bkhe->bqkhe", attn, v)
    Wo = blk.attn.out_proj.weight.view(d, H, dh)
    return torch.einsum("bqkhe,dhe->bqkhd", x, Wo)


# --- one pass over a data loader -------------------------------------------------------------


@torch.no_grad()
def decompose_dataset(model: nn.Module, loader: Iterable, cov_layers: Sequence[int], device: str | torch.device,
                      store_dtype: torch.dtype = torch.float16, log=None) -> tuple[Fold, Stats, dict]:
    """One streaming pass: the fold, the statistics, and the compact per-image store (plus the
    labels the loader yields as the second item of each batch)."""
    dec = Decomposer(model)
    fold = dec.fold.to(device=device)
    stats = Stats.for_fold(fold, cov_layers).to(device)
    store = Store(store_dtype)
    labels = []
    for i, (x, y) in enumerate(loader):
        b = dec(x.to(device))
        heads = phi_heads(b.heads, b.mu, b.sigma, b.norm, fold)
        mlps = phi_mlps(b.mlps, b.mu, b.sigma, b.norm, fold)
        stats.update(heads, mlps, b.embedding)
        store.add(b, mlps)
        labels.append(torch.as_tensor(y))
        if log and (i + 1) % 50 == 0:
            log(f"decomposed {stats.n} images")
    data = store.tensors()
    data["labels"] = torch.cat(labels).long()
    return fold.to(device="cpu"), stats.to("cpu"), data


# --- the decomposition file --------------------------------------------------------------------


def save(obj: dict, path: str) -> None:
    """Write a decomposition (or any torch-saved result of the family) atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load(path: str) -> dict:
    """Read ``decomposition.pt`` (rule textspan_decompose), with its Fold and Stats rebuilt."""
    d = torch.load(path, map_location="cpu", weights_only=False)
    d["fold"] = Fold.from_state(d["fold"])
    d["stats"] = Stats.from_state(d["stats"])
    return d

"""TextSpan (Gandelsman et al., ICLR 2024, Algorithm 1) in covariance form, and the analyses
built on the decomposition (``vlmbias.textspan.decompose``): mean-ablations, TextSpan replacement,
top images per head, token maps, group accuracies.

Greedy TextSpan on a head's centred contributions X (K x d') and a text pool R (M x d'):
pick the text whose projections X r have the largest variance, deflate X along it and
Gram-Schmidt every remaining text against it, m times. With Sigma the covariance of X, the
variance of X r is r^T Sigma r, and after choosing u = r*/|r*| the deflated data X(I - uu^T)
and orthogonalised texts R(I - uu^T) give r'^T Sigma' r' = r'^T Sigma r' (r' is orthogonal to u),
so only R changes and S = R Sigma is updated by rank one: O(M d') per step after one
covariance (from :class:`vlmbias.textspan.decompose.Stats`) -- no pass over the images
(research notes §7.2 point 4). :func:`textspan_direct` is the paper's algorithm on the data
matrix, the test oracle. As in the official code, texts are first projected onto the top-``rank``
(80) right singular subspace of the UNcentred head data (the eigenvectors of its second moment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

from vlmbias.textspan.decompose import phi_heads, phi_layers


class TextSpanError(ValueError):
    pass


@dataclass
class SpanResult:
    indices: list[int]          # chosen texts, in order
    directions: torch.Tensor    # [m, d'] orthonormal (the chosen texts after Gram-Schmidt, normalised)
    explained: list[float]      # V_explained / V_total after 1..m texts
    variances: list[float]      # variance of the data along each chosen direction


def head_subspace(second_moment: torch.Tensor, rank: int, n_images: int | None = None) -> torch.Tensor:
    """The top-``rank`` right singular vectors of the uncentred data (rows, [r, d']), from its
    second moment X^T X / K; at most min(rank, K, d') of them, as a thin SVD gives."""
    d = second_moment.shape[-1]
    r = min(rank, d, n_images if n_images is not None else d)
    evals, evecs = torch.linalg.eigh(second_moment.to(torch.float64))
    return evecs[..., :, -r:].flip(-1).transpose(-1, -2)


def project_texts(texts: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Orthogonal projection of the text rows onto span(basis rows); batched over leading dims."""
    t = texts.to(torch.float64)
    return (t @ basis.transpose(-1, -2)) @ basis


def textspan_cov(cov: torch.Tensor, texts: torch.Tensor, m: int, second_moment: torch.Tensor | None = None,
                 rank: int = 80, n_images: int | None = None) -> SpanResult | list[SpanResult]:
    """Greedy TextSpan from a head's covariance [d', d'] (or a stack [P, d', d'] of heads, done
    together); ``texts`` [M, d'] (unit CLIP text embeddings); ``second_moment`` of the uncentred
    data for the rank-``rank`` text projection (None: no projection)."""
    single = cov.dim() == 2
    Sigma = (cov[None] if single else cov).to(torch.float64)
    P, d, _ = Sigma.shape
    M = texts.shape[0]
    if texts.shape[1] != d:
        raise TextSpanError(f"text embeddings have dimension {texts.shape[1]}, head contributions {d}")
    R = texts.to(Sigma.device, torch.float64).expand(P, M, d).clone()
    if second_moment is not None:
        sm = (second_moment[None] if single else second_moment).to(Sigma.device, torch.float64)
        basis = head_subspace(sm, rank, n_images)
        R = project_texts(R, basis)
        limit = basis.shape[-2]
    else:
        limit = d
    if not 1 <= m <= min(M, limit):
        raise TextSpanError(f"basis size m={m} must be in 1..{min(M, limit)} (pool of {M} texts, "
                            f"head subspace of rank {limit})")
    S = R @ Sigma
    total = Sigma.diagonal(dim1=-2, dim2=-1).sum(-1)
    idx = torch.empty(P, m, dtype=torch.long)
    U = torch.empty(P, m, d, dtype=torch.float64, device=Sigma.device)
    var = torch.empty(P, m, dtype=torch.float64)
    ar = torch.arange(P, device=Sigma.device)
    for it in range(m):
        score = (S * R).sum(-1)  # r^T Sigma r per text
        j = score.argmax(-1)
        r = R[ar, j]
        u = r / r.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        su = (Sigma @ u[:, :, None])[..., 0]
        ru = (R @ u[:, :, None])[..., 0]
        R = R - ru[:, :, None] * u[:, None, :]
        S = S - ru[:, :, None] * su[:, None, :]
        idx[:, it] = j.cpu()
        U[:, it] = u
        var[:, it] = (u * su).sum(-1).cpu()
    expl = (var.cumsum(1) / total.cpu()[:, None].clamp_min(1e-300))
    out = [SpanResult(idx[p].tolist(), U[p].cpu(), expl[p].tolist(), var[p].tolist()) for p in range(P)]
    return out[0] if single else out


def textspan_direct(data: torch.Tensor, texts: torch.Tensor, m: int, rank: int | None = 80):
    """Algorithm 1 as the official code runs it, on the data matrix [K, d'] (test oracle): SVD
    projection of the texts, centring, then m rounds of (std of projections -> argmax, deflate
    data, Gram-Schmidt texts). Returns (indices, reconstruction [K, d'])."""
    X = data.to(torch.float64)
    T = texts.to(torch.float64)
    if rank is not None:
        _, _, vh = torch.linalg.svd(X, full_matrices=False)
        vr = vh[:rank]
        T = T @ vr.T @ vr
    mean = X.mean(0, keepdim=True)
    X = X - mean
    recon = mean.expand_as(X).clone()
    chosen = []
    for _ in range(m):
        proj = X @ T.T
        j = int(proj.std(0).argmax())
        chosen.append(j)
        t = T[j]
        n = t @ t
        recon = recon + (X @ t / n)[:, None] * t[None]
        X = X - (X @ t / n)[:, None] * t[None]
        T = T - (T @ t / n)[:, None] * t[None]
    return chosen, recon


def matches_keywords(text: str, keywords: Iterable[str]) -> bool:
    """Whole-word (or whole-phrase), case-insensitive match of any keyword."""
    return any(re.search(rf"(?<!\w){re.escape(k.lower())}(?!\w)", text.lower()) for k in keywords)


def select_heads(heads: Sequence[dict], keywords: Sequence[str], top_texts: int, min_share: float,
                 max_heads: int | None = None) -> list[dict]:
    """The heads whose first ``top_texts`` TextSpan texts are about the keywords' topic in at
    least ``min_share`` of cases, most-matching first (ties: larger explained variance)."""
    out = []
    for h in heads:
        first = h["texts"][:top_texts]
        share = sum(matches_keywords(t, keywords) for t in first) / max(1, len(first))
        if share >= min_share:
            out.append(dict(h, keyword_share=share))
    out.sort(key=lambda h: (-h["keyword_share"], -h["explained"][-1], h["layer"], h["head"]))
    return out[:max_heads] if max_heads else out


# --- accuracies from decomposed data ---------------------------------------------------------


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return 100.0 * int((logits.argmax(-1) == labels).sum()) / len(labels)


def group_accuracies(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> dict:
    """Accuracy per (label, group) cell, the average over images and the worst cell."""
    pred = logits.argmax(-1)
    cells = {}
    for y in labels.unique().tolist():
        for g in groups.unique().tolist():
            sel = (labels == y) & (groups == g)
            if sel.any():
                cells[f"{y}/{g}"] = 100.0 * float((pred[sel] == y).double().mean())
    return {"avg": 100.0 * float((pred == labels).double().mean()), "worst": min(cells.values()),
            "groups": cells}


def _chunks(n: int, size: int):
    for s in range(0, n, size):
        yield slice(s, min(n, s + size))


def _phi_heads(data, fold, sl, layers=None):
    return phi_heads(data["heads"][sl], data["mu"][sl], data["sigma"][sl], data["norm"][sl], fold, layers)


def _phi_layers(data, fold, sl):
    return phi_layers(data["heads"][sl], data["mu"][sl], data["sigma"][sl], data["norm"][sl], fold)


def ablation_logits(data: dict, fold, stats, W: torch.Tensor, *, mlps: bool = False,
                    layers: Sequence[int] = (), heads: Sequence[tuple[int, int]] = (),
                    chunk: int = 512) -> torch.Tensor:
    """Logits after mean-ablating (means over the same image set, from ``stats``): all MLP and
    embedding terms (``mlps``), whole attention layers, and single (layer, head) cells."""
    W = W.to(fold.A.dtype)
    n = data["embedding"].shape[0]
    out = []
    layers = sorted(set(layers))
    heads = [hh for hh in dict.fromkeys(map(tuple, heads)) if hh[0] not in layers]
    mean_l = stats.mean_layers.to(fold.A.dtype)
    mean_h = stats.mean_heads.to(fold.A.dtype)
    mean_mlp = stats.mean_mlps.sum(0).to(fold.A.dtype)
    for sl in _chunks(n, chunk):
        y = data["embedding"][sl].to(fold.A.dtype)
        if mlps:
            y = y - data["mlp_sum"][sl].to(fold.A.dtype) + mean_mlp
        if layers:
            y = y - (_phi_layers(data, fold, sl)[:, layers] - mean_l[layers]).sum(1)
        if heads:
            ls = sorted({l for l, _ in heads})
            ph = _phi_heads(data, fold, sl, ls)
            for l, h in heads:
                y = y - (ph[:, ls.index(l), h] - mean_h[l, h])
        out.append(y @ W)
    return torch.cat(out)


def accumulated_msa_curve(data: dict, fold, stats, W: torch.Tensor, labels: torch.Tensor,
                          chunk: int = 512) -> list[float]:
    """Accuracy with attention layers 0..l mean-ablated (MLPs intact), for l = -1 (none, the
    base accuracy), 0, .., L-1: L+1 values."""
    W = W.to(fold.A.dtype)
    mean_l = stats.mean_layers.to(fold.A.dtype)
    correct = torch.zeros(fold.layers + 1, dtype=torch.float64)
    n = data["embedding"].shape[0]
    for sl in _chunks(n, chunk):
        base = data["embedding"][sl].to(fold.A.dtype) @ W                       # [b, C]
        delta = torch.einsum("blo,oc->blc", _phi_layers(data, fold, sl) - mean_l, W)
        logits = torch.cat([base[:, None], base[:, None] - delta.cumsum(1)], dim=1)  # [b, L+1, C]
        correct += (logits.argmax(-1) == labels[sl, None]).double().sum(0)
    return (100.0 * correct / n).tolist()


def textspan_all_heads(stats, texts: torch.Tensor, layers: Sequence[int], m: int, rank: int = 80,
                       device="cpu", chunk: int = 16) -> list[dict]:
    """TextSpan for every head of ``layers`` (heads batched ``chunk`` at a time)."""
    cells = [(l, h) for l in layers for h in range(stats.heads)]
    out = []
    for s in range(0, len(cells), chunk):
        part = cells[s:s + chunk]
        cov = torch.stack([stats.covariance(l, h) for l, h in part]).to(device)
        sm = torch.stack([stats.second_moment(l, h) for l, h in part]).to(device)
        res = textspan_cov(cov, texts.to(device), m, second_moment=sm, rank=rank, n_images=stats.n)
        for (l, h), r in zip(part, res):
            out.append({"layer": l, "head": h, "indices": r.indices, "directions": r.directions,
                        "explained": r.explained, "variances": r.variances})
    return out


def replaced_logits(data: dict, fold, stats, W: torch.Tensor, spans: Sequence[dict], ablate_layers: Sequence[int],
                    chunk: int = 512) -> torch.Tensor:
    """Logits with every head in ``spans`` replaced by mean + its projection onto the span of its
    TextSpan directions, the attention layers ``ablate_layers`` mean-ablated, MLPs intact (the
    official protocol)."""
    dt = fold.A.dtype
    W = W.to(dt)
    layers = sorted({s["layer"] for s in spans})
    mean_h = stats.mean_heads.to(dt)
    mean_l = stats.mean_layers.to(dt)
    n = data["embedding"].shape[0]
    out = []
    for sl in _chunks(n, chunk):
        y = data["embedding"][sl].to(dt)
        if ablate_layers:
            y = y - (_phi_layers(data, fold, sl)[:, list(ablate_layers)] - mean_l[list(ablate_layers)]).sum(1)
        ph = _phi_heads(data, fold, sl, layers)
        for s in spans:
            l, h = s["layer"], s["head"]
            U = s["directions"].to(dt)
            x = ph[:, layers.index(l), h] - mean_h[l, h]
            y = y - (x - (x @ U.T) @ U)
        out.append(y @ W)
    return torch.cat(out)


def top_images(data: dict, fold, span: dict, k: int, chunk: int = 2048) -> list[int]:
    """Indices of the ``k`` images whose head contribution has the largest dot product with the
    head's first TextSpan direction."""
    l, h = span["layer"], span["head"]
    u = span["directions"][0].to(fold.A.dtype)
    scores = []
    for sl in _chunks(data["embedding"].shape[0], chunk):
        scores.append(_phi_heads(data, fold, sl, [l])[:, 0, h] @ u)
    s = torch.cat(scores)
    return s.topk(min(k, s.numel())).indices.tolist()

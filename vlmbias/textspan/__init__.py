"""TextSpan (Gandelsman, Efros, Steinhardt, ICLR 2024): t18, f19, t20, f21 and t22.

Modules: ``plan`` (the config section, no torch), ``decompose`` (the exact decomposition of a CLIP
ViT), ``span`` (the TextSpan algorithm and the arithmetic of the analyses), ``pool`` (the text
pool), ``run`` (the model passes), ``analyses`` (the steps without the model), ``tables`` and
``figures`` (the writers), ``bench`` (``python -m vlmbias.textspan.bench``: images/s and bytes per
image of the decomposition against the reference design's).

As implemented, on STOCK open_clip (no vendored model): forward hooks on ``ln_pre``, each block's
``ln_1`` and ``mlp``, and a pre-hook on ``ln_post``. Only the CLS query row of each attention is
recomputed (never the reference's [B, N, N, H, d] tensor); ``ln_post`` and ``proj`` are folded into
one d_h x d' matrix per head with the official code's split of the LN's mean and bias, so the
contributions of every head, MLP and the embedding term (and, on demand, every image token) sum
to the L2-normalised ``encode_image`` output. One streaming pass per (CLIP, dataset) keeps the
heads in head space (fp16) plus two d' vectors per image, the mean of every component and the
second moments of the last layers' heads (fp64); every later step works from those.

- t18: zero-shot top-1 of the full model and with all MLP terms AND the embedding term
  mean-ablated (means over the same image set, as the official code); f19: attention layers
  0..l mean-ablated, MLPs intact.
- t20: greedy TextSpan per head of the last ``last_layers`` layers in covariance form (texts first
  projected onto the head's top-80 uncentred singular subspace, as the official code): texts,
  V_explained/V_total, top-k images for the first text; per model, the accuracy with those heads
  replaced by mean + their projection (earlier layers mean-ablated), for m = 1..M. Toy pool:
  generated from the toy vocabulary; real runs: a file, one description per line.
- f21: per-token contributions dotted with two prompts, upsampled and overlaid, and their
  difference (a PNG per model).
- t22 (beyond the material): Waterbirds worst-group and average accuracy, base; the official
  context ablation; plus the place heads (chosen from t20's texts by keyword rule); plus as many
  random heads of the same layers (seeded draws). The table says whether the place heads raised
  the worst group.
"""

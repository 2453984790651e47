"""PerceptionCLIP (An, Zhu et al., "Visual Classification by Inferring and Conditioning on
Contexts", ICLR 2024): t16 (Waterbirds), t17 (CelebA).

Modules: ``plan`` (the config section -> heads and evaluations, no torch), ``prompts`` (prompt
composition as the official code, the official attribute dictionaries under ``attributes/`` and
the toy world's, generated from its vocabulary), ``infer`` (the two steps in log space, group
metrics), ``run`` (text heads from a CLIP; the evaluation from cached embeddings and heads),
``tables`` and ``figures``.

As implemented (research notes §1, §3): the head holds one row per (class, attribute value),
class-major, the mean of the value's prompts' normalised text embeddings, renormalised, times
the model's logit scale; P(z|x) by ClassAttr (class-conditioned prompts summed over classes) or
PureAttr (the class word replaced by a generic word), at temperature tau; P(y|x,z) at
temperature 1; P(y|x) = sum_z P(y|x,z) P(z|x), all in log space (the official code exponentiates
raw scores). Beyond the official code: tau is chosen on the validation split (or fixed), never
on the evaluation split's groups; unknown attribute names are an error (the official code drops
them silently); how often P(z|x) picks the image's true attribute is measured per group.
Deviations: one text tokenizer and model loader, open_clip's, for every backbone (the official
code uses OpenAI's clip.load for the OpenAI weights: the QuickGELU variants give the same
embeddings).
"""

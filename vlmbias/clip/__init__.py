"""The shared CLIP stack: model specs and the ``clip`` config section (``spec``, torch-free), the
one loader (``load``), prompt templates (``templates``), zero-shot classification
(``zeroshot``), contrastive pre-training in the workflow (``pretrain``), and the image-embedding
cache every CLIP family reads (``embed``)."""

"""The shared CLIP stack every CLIP family stands on: model specs and the ``clip`` config section
(``spec``, torch-free), the one loader (``load``), prompt templates (``templates``), zero-shot
classification (``zeroshot``), contrastive pre-training in the workflow (``pretrain``), and the
image-embedding cache (``embed``).

As implemented:

- Labeled datasets keep their own splits: a ``datasets:`` entry with ``splits: {train: N1, val:
  N2, test: N3}`` is sampled from the samples whose json ``split`` is that name; ``classes:``
  gives the class names (a list, or ``imagenet``: open_clip's 1000 names); toy sources have their
  own (``vlmbias.toyworld.class_names``).
- One loader, ``load_clip(spec, checkpoint, device)`` -> ``ClipBundle``: an open_clip name with a
  pretrained tag, a local checkpoint, the workflow's own checkpoint, or random init. The toy
  architecture ``vlmbias-toy-vit`` is an open_clip model config (``model_configs/``) registered
  with ``open_clip.add_model_config``. Zero-shot weights come from open_clip's
  ``build_zero_shot_classifier``; templates are open_clip's 80 OpenAI ImageNet templates or, in the
  toy world, the ImageNet-like source's caption grammar over every colour x background.
- The toy CLIP (rule ``train_clip``, ``gpu=1``) trains from scratch with open_clip's ``ClipLoss``
  through the one loop (AdamW betas 0.9/0.98, eps 1e-6, cosine with warmup, temperature clamped
  at 100) on the LAION-like ``webpairs`` + the labeled datasets' train splits; rule
  ``embed_clip`` caches image embeddings per (model, dataset, split), rule ``zeroshot_clip``
  computes each model's zero-shot top-1 from them.
"""

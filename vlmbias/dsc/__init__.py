"""Dataset classification (Liu & He, "A Decade's Battle on Dataset Bias", ICLR 2025).

Modules: ``spec`` (one run's spec), ``plan`` (the rows of t01-t07 and every run they need),
``ssl_plan`` and ``ssl_recipes`` (t08/t09: MAE runs and probe jobs) -- config -> jobs, no torch --;
``run`` (train and evaluate one run through the one loop), ``mae`` (MAE model and
pre-training), ``probe`` (linear probes sharing one frozen forward pass), ``composition`` (t10),
``tables`` and ``figures`` (the writers).

The tables, as implemented. Every table is built from runs of the one training loop; a run is
shared by every table that needs it (t01's YCD row is t02's ConvNeXt-T row, t05's default/1M
cell, t06's "none" row...). Sizes are given per table as ``paper label -> n_train``, and every
run gets the same samples-seen budget, as in the paper. A preset that resolves to the recipe
itself is the plain run (one job); a config overlay leaves a sweep point out by setting it to
null (``sizes: {100K: null}``, a t05 column ``crop: null``; lists such as ``models`` are replaced
whole): that is how config/smoke.yaml trims the sweeps for CI.

- f03: ConvNeXts from the authors' follow-up code, 7,373 parameters (the paper's "7K") up to
  ConvNeXt-T; PNG with the two reported points at their own parameter counts.
- f04: ConvNeXt-T and AlexNet at three sizes per dataset; PNG. The reported ConvNeXt points are
  Table 4's default row, AlexNet's 1M point Table 3's (the figure gives no numbers).
- t05: presets ``no_aug`` (eval resize + centre crop), ``crop`` (RandomResizedCrop + flip),
  ``crop_randaug``, ``default`` (+ Mixup/CutMix), at three sizes; label smoothing stays on.
- t06: corruptions (``vlmbias.train.corruptions``) after decoding, before the recipe's
  transforms, on training AND validation images (fresh draws per training access, fixed draws
  per validation image).
- t07: three disjoint pseudo-datasets of one source (the images whose rank is k mod 3);
  training accuracy is a clean pass over the training images; "fail" = the mean loss over the
  last 10% of training is >= ``fail_loss_ratio`` (0.95) x the mean over the first 10%.
- t08: MAE pre-trained on YCD and on the ImageNet stand-in (or a local public checkpoint),
  linear-probed (frozen encoder, class token through the final norm, BatchNorm without affine +
  linear head, MAE's LARS), beside a supervised ViT of the same size.
- t09: dataset-classification ViTs (YCD, +W, +L, +I) and a random ViT, probed on a labeled task
  over a layer x base-lr sweep (one probe job per encoder: its heads share the frozen forward
  pass); the best head is reported with the whole sweep beside it. Deviation: the paper probes
  the epoch-250/300 checkpoint, this the final one.
- t10: per dataset, the share of every value of every group attribute in the sampled images'
  json metadata (and of pairs), and the most under-represented group.

Choices where the paper is silent: validation images also come from the train split of
datasets with predefined splits; resized images are PNG (as the authors' follow-up code);
training accuracy is a clean pass over up to ``train_acc_samples`` images per dataset; Pillow is
pinned to 12.x (timm's RandAugment may posterize to 0 bits, which Pillow 13 rejects).
"""

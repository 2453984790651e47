"""B2T (Kim, Mo et al., "Discovering and Mitigating Visual Biases through Keyword Explanation",
CVPR 2024): t11-t13.

* ``plan`` -- the config's ``b2t`` section as jobs (no torch);
* ``classify`` -- the classifier under audit (ERM through the one loop, a released pickled
  checkpoint, or a pretrained model as it is) and its per-image predictions;
* ``clipcap``, ``captioner`` -- ClipCap (MLP variant on transformers' GPT-2): the official weights
  or a toy one trained here, and the caption cache;
* ``keywords``, ``audit`` -- YAKE keywords of a class's mispredicted captions, CLIP score,
  subgroup accuracy, S/M tags (t11);
* ``prompting`` -- zero-shot CLIP with debiasing class templates (t12);
* ``diagnosis`` -- label diagnosis: keywords that name the predicted class (t13);
* ``tables``, ``figures`` -- the three tables and t13's image grid.
"""

"""Rule lle_imagenet_clip: a CLIP's zero-shot row of t15 from the embedding cache
(vlmbias.lle.imagenet_clip)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.clip.load import load_clip  # noqa: E402
from vlmbias.core import smk  # noqa: E402
from vlmbias.core.device import pick_device  # noqa: E402
from vlmbias.core.io import write_json  # noqa: E402
from vlmbias.lle.imagenet import job_spec  # noqa: E402
from vlmbias.lle.imagenet_clip import clip_metrics  # noqa: E402
from vlmbias.lle.metrics import IMAGENET_COLUMNS  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
spec = job_spec(snakemake.params.spec, snakemake.input.in9_map)
bundle = load_clip(snakemake.params.clip, checkpoint=snakemake.input.get("weights"),
                   device=pick_device(snakemake.params.device), name=snakemake.wildcards.clip)
sets = ("val", "val_w", "val_stylized", "val_rendition", "val_mixed_same", "val_mixed_rand")
m = clip_metrics(bundle, spec, {k: snakemake.input[k] for k in sets})
write_json(snakemake.output[0], {"clip": bundle.name, "open_clip": bundle.arch, "weights": bundle.weights,
                                 "method": "clip_zero_shot", "row": f"CLIP zero-shot ({bundle.name})",
                                 "test": m, "config": spec})
log.info("  ".join(f"{k} {m[k]:.1f}" for k in IMAGENET_COLUMNS if k in m))

"""Rule b2t_label_diagnosis: the images whose class's keyword names the predicted class, scored
against the planted label errors where the metadata has them."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias.b2t.diagnosis import diagnose  # noqa: E402
from vlmbias.core import smk  # noqa: E402
from vlmbias.core.io import read_json  # noqa: E402

log = smk.setup(snakemake)
p, i, o = snakemake.params, snakemake.input, snakemake.output
diagnose(p.task, i.predictions, i.captions, read_json(i.keywords), p.sample_dir, o.run, o.images,
         examples=p.examples, log=log.info)

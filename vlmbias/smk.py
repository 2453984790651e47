"""Glue for the thin scripts under scripts/: logging to the rule's log file."""

from __future__ import annotations

import logging
import sys


def setup(snakemake) -> logging.Logger:
    """Send stdout, stderr (tqdm bars included) and a logger to the rule's ``log:`` file."""
    if snakemake.log:
        f = open(snakemake.log[0], "w", buffering=1)
        sys.stdout = sys.stderr = f
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", force=True)
    return logging.getLogger(f"vlmbias.{snakemake.rule}")

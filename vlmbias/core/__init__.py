"""What every family shares and no family owns: files (``io``: atomic writes, JSON, hashes),
the compute device (``device``), GPU slots on a workstation (``gpu``), the config's datasets and
its error (``config``), and the glue of the thin scripts under scripts/ (``smk``)."""

"""TextSpan (Gandelsman, Efros, Steinhardt, ICLR 2024): the config section (``plan``, no torch),
the exact decomposition of a CLIP ViT (``decompose``), the TextSpan algorithm and the analyses'
arithmetic (``span``), the text pool (``pool``), the model passes (``run``), the analyses
without the model (``analyses``), the tables and figures (``tables``, ``figures``), and a
benchmark of the decomposition (``bench``)."""

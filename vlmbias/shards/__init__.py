"""Raw image shards (WebDataset tars as img2dataset writes them) and what is made of them: the
one reader (``reader``) and writer (``writer``), the seeded streaming sampler (``sampler``), and
map-style datasets over the sampled images (``dataset``)."""

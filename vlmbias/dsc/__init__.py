"""Dataset classification (Liu & He, "A Decade's Battle on Dataset Bias"): which runs each
table needs (``spec``, ``plan``, ``ssl_plan``, ``ssl_recipes``: config -> jobs, no torch), one
training run (``run``), MAE pre-training (``mae``), linear probes (``probe``), dataset
composition (``composition``), and the tables and figures (``tables``, ``figures``)."""

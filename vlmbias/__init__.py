"""vlmbias: data-bias experiments on vision and vision-language models, as one Snakemake DAG."""

"""Where the workflow keeps what it makes (the data contracts of DESIGN.md, under results/): the
paths the plan modules and the rules agree on. No torch here."""

from __future__ import annotations

from typing import Iterable


def sample_dir(dataset: str) -> str:
    """A sampled dataset: index.parquet (one row per image: its shard, offset, label, metadata)
    and shards/ (the images), written by rule sample."""
    return f"results/samples/{dataset}"


def sample_inputs(datasets: Iterable[str]) -> dict[str, list[str]]:
    """The declared inputs of a job that reads sampled datasets: their indexes and shard folders."""
    datasets = list(dict.fromkeys(datasets))
    return {"indexes": [f"{sample_dir(d)}/index.parquet" for d in datasets],
            "shards": [f"{sample_dir(d)}/shards" for d in datasets]}


def sample_dirs(datasets: Iterable[str]) -> dict[str, str]:
    """Dataset -> sample folder, for a script's params."""
    return {d: sample_dir(d) for d in dict.fromkeys(datasets)}


def run_file(family: str, run: str, name: str) -> str:
    """A file of one run: results/runs/<family>/<run>/<name> (metrics.json, model.pt, encoder.pt)."""
    return f"results/runs/{family}/{run}/{name}"


def clip_model(name: str) -> str:
    """The checkpoint of a CLIP trained in the workflow (rule train_clip)."""
    return f"results/clip/{name}/model.pt"

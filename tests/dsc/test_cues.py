"""The cue diagnostic: its probe separates what is separable and nothing else, its texture
features ignore brightness and contrast, its command runs on the config's corruptions, on toy
sources and on one's own raw shards."""

import io
import pathlib

import pytest
import torch
import yaml
from PIL import Image

from vlmbias.core.config import load_config
from vlmbias.dsc import cues
from vlmbias.shards.reader import BadInputError
from vlmbias.shards.writer import ShardWriter

DEFAULT = str(pathlib.Path(__file__).resolve().parents[2] / "config" / "config.yaml")


def test_probe_accuracy_separable_and_chance():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 3             # interleaved classes: the split is per class
    separable = torch.randn(300, 4, generator=g) * 0.1 + torch.nn.functional.one_hot(y, 4).double()
    assert cues.probe_accuracy(separable.float(), y) == 100.0
    noise = torch.randn(300, 4, generator=g)
    assert cues.probe_accuracy(noise, y) < 50.0           # chance 33.3 on 100 val samples
    with pytest.raises(ValueError, match="two classes"):
        cues.probe_accuracy(noise[:9], torch.zeros(9, dtype=torch.long))


def test_texture_ignores_gain_and_contrast_colour_does_not():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 3, 16, 16, generator=g) * 0.5 + 0.2
    changed = (x - 0.5) * 1.3 * 0.8 + 0.5 * 0.8                # contrast 1.3, then gain 0.8
    assert torch.allclose(cues.texture(x), cues.texture(changed), atol=1e-3)
    assert not torch.allclose(cues.colour(x), cues.colour(changed), atol=1e-2)
    assert cues.tiny(x).shape == (5, 75) and cues.colour(x).shape == (5, 6)


def test_command_prints_every_corruption(tmp_path, capsys):
    over = {"toyworld": {"image_size": 32},
            "corruptions": {"jit": {"type": "color_jitter", "strength": 1.0}, "low": {"type": "low_resolution", "size": 5}}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(over))
    cues.main(["--configfile", DEFAULT, str(path), "--n", "9", "--input-size", "16", "--corruptions", "jit", "low"])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["none", "jit", "low"] and all(len(r) == 4 for r in rows)
    assert all(0.0 <= float(v) <= 100.0 for r in rows for v in r[1:])
    cues.main(["--configfile", DEFAULT, str(path), "--n", "3", "--input-size", "8"])   # default: every corruption
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]] == \
        ["none", *load_config([DEFAULT])["corruptions"], "jit", "low"]
    with pytest.raises(SystemExit, match="no corruption"):
        cues.main(["--configfile", DEFAULT, "--n", "9", "--corruptions", "blur_9"])
    path.write_text(yaml.safe_dump({"toyworld": {"shared_content": 2.0}}))
    with pytest.raises(SystemExit, match="c.yaml"):                      # the schema checks the overlay
        cues.main(["--configfile", DEFAULT, str(path), "--n", "3"])


def test_overlay_configs_and_sources_that_are_not_web_stand_ins(tmp_path, capsys):
    """Config files overlay as Snakemake's do; the difficulty knobs reach only the web stand-ins
    (the subtle-cue sources take their defaults, which they require)."""
    overlay = tmp_path / "over.yaml"
    overlay.write_text(yaml.safe_dump({"toyworld": {"image_size": 16}}))
    cfg = load_config([DEFAULT, str(overlay)])
    cfg["datasets"]["cast"] = {"toy": "subtle_cast"}
    imgs, y = cues.decoded(["cast", "yfcc"], 6, cfg)
    assert 16 <= min(imgs[0].size) < 20 and y.tolist() == [0] * 6 + [1] * 6   # framing may add a pixel
    sub = str(pathlib.Path(DEFAULT).parent / "subtle_cues.yaml")
    cues.main(["--configfile", DEFAULT, sub, str(overlay), "--n", "9", "--input-size", "8",
               "--datasets", "subtle_cast", "subtle_grain", "--corruptions", "color_jitter_1.0"])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["none", "color_jitter_1.0"]


def _write_shards(folder, name, n_shards, per_shard, rgb, bad=()):
    """Raw shards of noisy images around one colour; keys in ``bad`` hold bytes that are no image."""
    g = torch.Generator().manual_seed(len(name))
    paths = []
    for s in range(n_shards):
        path = folder / f"{name}-{s:03d}.tar"
        with ShardWriter(str(path)) as w:
            for i in range(per_shard):
                key = f"{name}_{s}_{i}"
                px = (torch.tensor(rgb).view(3, 1, 1) + torch.randn(3, 24, 24, generator=g) * 30).clamp(0, 255)
                buf = io.BytesIO()
                Image.fromarray(px.permute(1, 2, 0).byte().numpy()).save(buf, format="PNG")
                w.write(key, {"png": b"not an image" if key in bad else buf.getvalue(), "txt": b"x"})
        paths.append(str(path))
    return paths


def test_own_shards_spread_over_shards_bad_images_counted(tmp_path, capsys):
    """Datasets of one's own raw shards: images from shards spread over the list, an
    undecodable one skipped within max_bad_fraction, too many named; colour separates them."""
    red = _write_shards(tmp_path, "red", 4, 10, (200, 60, 60), bad={"red_0_0"})
    blue = _write_shards(tmp_path, "blue", 1, 40, (60, 60, 200))
    junk = _write_shards(tmp_path, "junk", 1, 5, (0, 0, 0), bad={f"junk_0_{i}" for i in range(5)})
    imgs = cues.shard_images(red, 12, 0.1, "datasets.red")            # 1 bad of 13 seen
    assert len(imgs) == 12 and all(im.size == (24, 24) for im in imgs)   # 3 from each of the 4 shards
    assert len(cues.shard_images(red, 2, 0.5, "r")) == 2                 # shards 0 (after its bad one) and 3
    short = _write_shards(tmp_path, "short", 1, 2, (0, 200, 0)) + _write_shards(tmp_path, "long", 3, 5, (0, 200, 0))
    assert len(cues.shard_images(short, 16, 0.0, "s")) == 16  # 2 + 5 + 5 + 4: the short shard's rest taken by the later ones
    assert len(cues.shard_images(short, 20, 0.0, "s")) == 17  # all there is
    empty = _write_shards(tmp_path, "empty", 1, 2, (0, 0, 0), bad={"empty_0_0", "empty_0_1"})
    spread = short[:1] + short[1:2] + empty                  # n=2 picks the first and last: the middle tops up
    imgs = cues.shard_images(spread, 2, 0.6, "s")
    assert len(imgs) == 2
    with pytest.raises(BadInputError, match="datasets.red"):
        cues.shard_images(red, 12, 0.0, "datasets.red")
    over = tmp_path / "own.yaml"
    over.write_text(yaml.safe_dump({"datasets": {"red": {"shards": red}, "blue": {"shards": blue},
                                                 "junk": {"shards": junk}}}))
    cues.main(["--configfile", DEFAULT, str(over), "--n", "30", "--datasets", "red", "blue",
               "--corruptions", "color_jitter_1.0"])
    out = capsys.readouterr().out.splitlines()
    assert "red (30), blue (30)" in out[0]
    assert float(out[2].split()[1]) == 100.0                            # colour alone: none
    for bad, match in [(["junk", "blue"], "datasets.junk"), (["nowhere", "blue"], "datasets.nowhere")]:
        with pytest.raises(SystemExit, match=match):
            cues.main(["--configfile", DEFAULT, str(over), "--n", "30", "--datasets", *bad])

"""The HTML report (``snakemake --report results/report.html``): what each table/figure is, which
paper (family) it belongs to, which config produced it, and the table rendered as HTML (the
report viewer renders HTML and images, not Markdown or CSV).

rules/report.smk turns every table id of the run into ``results/report/<id>.html`` (title, notes
and the table from ``results/tables/<id>.{md,csv}``, reproduced values beside the reported ones,
figures embedded) and every figure into ``results/report/<id>.png``; rules/common.smk's
``report_item`` marks them for the report, category = paper, subcategory = table id.
"""

from __future__ import annotations

import base64
import html
import os

import pandas as pd

from vlmbias.core.io import spec_hash, write_text
from vlmbias.tables.registry import category

def provenance(config: dict, configfiles, basedir: str) -> dict:
    """Which config produced the results: its files (relative to the workflow when inside it)
    and a hash of the resolved config (defaults filled in)."""
    files = []
    for f in configfiles:
        f = os.path.abspath(str(f))
        rel = os.path.relpath(f, basedir)
        files.append(rel if not rel.startswith("..") else f)
    toy = [n for n, e in (config.get("datasets") or {}).items() if e.get("toy")]
    data = ("toy world" if len(toy) == len(config.get("datasets") or {}) else
            "real shards" if not toy else f"real shards + toy stand-ins for {', '.join(toy)}")
    return {"configfiles": ", ".join(files) or "(none)", "config_hash": spec_hash(config, 12),
            "data": data}


def _md_head(md_path: str) -> tuple[str, list[str]]:
    """Title and bullet notes of a table's Markdown file (written by tables.write.write_table)."""
    heading, notes = "", []
    with open(md_path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# ") and not heading:
                heading = line[2:]
            elif line.startswith("- "):
                notes.append(line[2:])
            elif line.startswith("|"):
                break
    return heading, notes


_STYLE = """
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f0f0f0; }
td.text { text-align: left; }
th.reproduced, td.reproduced { background: #e8f4e8; }
th.reported, td.reported { background: #eef0fb; }
.provenance { color: #555; font-size: 0.85em; }
img { max-width: 100%; }
"""


def table_html(table_id: str, csv_path: str, md_path: str, out_path: str, prov: dict,
               figures: list[str] | None = None) -> None:
    """One self-contained HTML page: title, notes, the table (reproduced and reported columns
    highlighted side by side), figures (embedded) and the config that produced it."""
    df = pd.read_csv(csv_path)
    heading, notes = _md_head(md_path)
    head = ["<tr>"] + [f'<th class="{_col_class(c)}">{html.escape(str(c))}</th>' for c in df.columns]
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            text = "" if pd.isna(v) else (f"{v:.1f}" if isinstance(v, float) else str(v))
            klass = _col_class(c) or ("text" if not isinstance(v, (int, float)) else "")
            cells.append(f'<td class="{klass}">{html.escape(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    parts = [
        "<!DOCTYPE html>", '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(table_id)}</title><style>{_STYLE}</style></head><body>",
        f"<h2>{html.escape(heading or table_id)}</h2>",
        f"<p><b>{html.escape(table_id)}</b> &mdash; {html.escape(category(table_id))}</p>",
    ]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("<table>" + "".join(head) + "</tr>" + "".join(rows) + "</table>")
    for fig in figures or []:
        with open(fig, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        parts.append(f'<p><img alt="{html.escape(os.path.basename(fig))}" '
                     f'src="data:image/png;base64,{data}"></p>')
    parts.append(f'<p class="provenance">Config: {html.escape(prov["configfiles"])} '
                 f'(resolved config hash {html.escape(prov["config_hash"])}; data: '
                 f'{html.escape(prov["data"])}). Files: {html.escape(csv_path)}, '
                 f'{html.escape(md_path)}.</p>')
    parts.append("</body></html>")
    write_text(out_path, "\n".join(parts) + "\n")


def _col_class(col: str) -> str:
    c = str(col).lower()
    if c.startswith("reproduced"):
        return "reproduced"
    if c.startswith("reported"):
        return "reported"
    return ""

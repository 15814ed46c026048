"""One self-contained HTML report: blocks of tables, text, inlined images and interactive graphs on one page.

``Report(title)`` collects blocks in order and ``to_html(path)`` writes a single file that needs nothing else
when viewed: images are inlined as ``data:`` URIs, graphs are inline SVG with the graph page's own script
(collapse a module by clicking it, hover a node for its statistics). ``lamina report RUN`` builds one for a
trained run; any script can build its own:

    r = viz.Report("my experiment")
    r.table("settings", {"lr": 0.01, "epochs": 10})
    r.image("loss", "loss.png")                    # a PNG file or its bytes
    r.graphs("the graph", [viz.graph(model, x)])
    r.trace("one batch", viz.trace(model, x, y, loss_fn))
    r.to_html("report.html")
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from lamina.viz.html import _section, document
from lamina.viz.render import COLORS
from lamina.viz.trace import BACKWARD, FORWARD, textbook_name

__all__ = ["Report"]

REPORT_STYLE = """
nav { padding: 6px 16px; border-bottom: 1px solid #e2e8f0; font-size: 13px; }
nav a { margin-right: 12px; color: #1d4ed8; text-decoration: none; }
.block { padding: 4px 16px 12px; }
.block h2 { border-bottom: 1px solid #e2e8f0; padding-bottom: 3px; }
table.kv, table.grid { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
table.kv td, table.grid td, table.grid th { border: 1px solid #e2e8f0; padding: 2px 8px; text-align: left; }
table.kv td:first-child, table.grid th { background: #f8fafc; font-weight: 600; }
table.kv pre { margin: 0; font-size: 12px; }
table.grid td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.grid tr.layer td { background: #eef2ff; font-weight: 600; }
figure { margin: 6px 0 14px; } figure img { max-width: 100%; border: 1px solid #e2e8f0; }
figcaption { font-size: 12px; color: #475569; }
.warning { background: #fef3c7; border: 1px solid #d97706; border-radius: 4px; padding: 4px 8px; margin: 4px 0; }
.note { color: #475569; font-size: 13px; }
section.graph { padding-left: 0; padding-right: 0; }
"""


def _cell(value) -> str:
    if isinstance(value, str) and "\n" in value:
        return f"<pre>{escape(value)}</pre>"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and len(value) > 12:
        return escape(", ".join(map(str, value[:12])) + f", ... ({len(value)} values)")
    return escape(str(value))


class Report:
    """An HTML report built block by block (see the module docstring)."""

    def __init__(self, title: str, subtitle: str = ""):
        self.title, self.subtitle = title, subtitle
        self.blocks: list = []  # (anchor, heading, html)
        self._graphs = 0

    def _add(self, heading: str, html: str) -> Report:
        anchor = f"b{len(self.blocks)}"
        self.blocks.append((anchor, heading, html))
        return self

    def html(self, heading: str, html: str) -> Report:
        """A block of ready-made HTML."""
        return self._add(heading, html)

    def text(self, heading: str, text: str, warnings=()) -> Report:
        """A paragraph, and optionally warnings shown in boxes."""
        body = f'<p class="note">{escape(text)}</p>' if text else ""
        body += "".join(f'<div class="warning">{escape(w)}</div>' for w in warnings)
        return self._add(heading, body)

    def table(self, heading: str, rows, note: str = "") -> Report:
        """A two-column table from a dict (or (name, value) pairs)."""
        items = rows.items() if isinstance(rows, dict) else rows
        body = "".join(f"<tr><td>{escape(str(k))}</td><td>{_cell(v)}</td></tr>" for k, v in items)
        extra = f'<p class="note">{escape(note)}</p>' if note else ""
        return self._add(heading, f'{extra}<table class="kv">{body}</table>')

    def image(self, heading: str, png, caption: str = "") -> Report:
        """A PNG (a path or its bytes), inlined as a data: URI."""
        data = png if isinstance(png, bytes) else Path(png).read_bytes()
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            raise ValueError(f"Report.image({heading!r}): expected a PNG image")
        return self._add(heading, self._figure(data, heading, caption))

    def images(self, heading: str, pngs, note: str = "") -> Report:
        """Several PNGs (paths or bytes, with captions: ``[(png, caption), ...]``) under one heading."""
        body = f'<p class="note">{escape(note)}</p>' if note else ""
        for png, caption in pngs:
            data = png if isinstance(png, bytes) else Path(png).read_bytes()
            body += self._figure(data, caption or heading, caption)
        return self._add(heading, body)

    @staticmethod
    def _figure(data: bytes, alt: str, caption: str) -> str:
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
        return f'<figure><img alt="{escape(alt)}" src="{uri}">{cap}</figure>'

    def graphs(self, heading: str, graphs, note: str = "") -> Report:
        """Interactive graphs (``viz.graph`` results): inline SVG, collapsible modules, statistics on hover."""
        legend = "".join(f'<span style="background:{fill};border:1px solid {stroke}">{kind}</span>'
                         for kind, (fill, stroke) in COLORS.items())
        parts = [f'<p class="note">{escape(note)}</p>' if note else "", f'<div class="legend">{legend}</div>']
        for g in graphs:
            parts.append(_section(g, self._graphs))
            self._graphs += 1
        return self._add(heading, "".join(parts))

    def trace(self, heading: str, trace, png=None, note: str = "") -> Report:
        """A ``viz.trace`` as a table (each layer's forward then backward tensors: shape, min, max, mean, norm),
        with its figure (PNG path or bytes) if given."""
        head = "".join(f"<th>{h}</th>" for h in ("tensor", "shape", "min", "max", "mean", "norm"))
        rows = [f"<tr><th colspan=6>loss {trace.loss:.6g}</th></tr><tr>{head}</tr>"]
        for layer in trace.layers:
            rows.append(f'<tr class="layer"><td colspan=6>layer {layer.index}: {escape(layer.name)}</td></tr>')
            for direction, keys in (("forward", FORWARD), ("backward", tuple(reversed(BACKWARD)))):
                for key in keys:
                    if key not in layer.tensors:
                        continue
                    info = layer.tensors[key]
                    s = info.stats or {}
                    nums = "".join(f'<td class="num">{s[k]:.4g}</td>' if k in s else "<td>-</td>"
                                   for k in ("min", "max", "mean", "norm"))
                    arrow = "→" if direction == "forward" else "←"
                    rows.append(f"<tr><td>{arrow} {escape(textbook_name(key, layer.index))}</td>"
                                f"<td>{info.shape}</td>{nums}</tr>")
        body = f'<p class="note">{escape(note)}</p>' if note else ""
        body += f'<table class="grid">{"".join(rows)}</table>'
        if png is not None:
            data = png if isinstance(png, bytes) else Path(png).read_bytes()
            body += self._figure(data, heading, "each tensor as a heat map (red > 0 > blue): forward rows left to "
                                               "right, backward rows below them")
        return self._add(heading, body)

    def to_html(self, path=None) -> str:
        """The page as one string; written to ``path`` if given."""
        nav = "".join(f'<a href="#{a}">{escape(h)}</a>' for a, h, _ in self.blocks)
        sub = f"<div>{escape(self.subtitle)}</div>" if self.subtitle else ""
        blocks = "\n".join(f'<div class="block" id="{a}"><h2>{escape(h)}</h2>{html}</div>'
                           for a, h, html in self.blocks)
        body = f"<header><h1>{escape(self.title)}</h1>{sub}</header><nav>{nav}</nav>\n{blocks}"
        return document(self.title, body, REPORT_STYLE, path=path)

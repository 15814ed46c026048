"""Graph to text: DOT for graphviz, and SVG drawn by lamina itself from the layered layout.

The SVG has one ``<g class="node ...">`` per node (its box, its text, and a ``<title>`` with the shape and the
value and gradient statistics, which a browser shows on hover), one ``<path class="edge">`` per edge and one
``<g class="cluster">`` per module. The HTML view moves these same elements when a module is collapsed.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from html import escape

from lamina.viz.layout import Layout, layout

CHAR_WIDTH, LINE_HEIGHT, PADDING = 7.0, 16.0, 8.0
CLUSTER_PAD, CLUSTER_LABEL = 8.0, 16.0
COLORS = {  # fill, stroke
    "op": ("#dbeafe", "#2563eb"),
    "param": ("#fef3c7", "#d97706"),
    "input": ("#dcfce7", "#16a34a"),
    "module": ("#ede9fe", "#7c3aed"),
    "saved": ("#ffedd5", "#ea580c"),  # an array an op keeps for backward (graph(..., saved=True))
}
STYLE = """
.node rect { stroke-width: 1.2; }
.node text { font: 12px sans-serif; fill: #111827; }
.node text.sub { fill: #4b5563; font-size: 11px; }
.edge { fill: none; stroke: #6b7280; stroke-width: 1.2; }
.edge.saved { stroke: #ea580c; stroke-dasharray: 3 3; }
.cluster rect { fill: #64748b; fill-opacity: 0.06; stroke: #94a3b8; stroke-dasharray: 4 3; }
.cluster text { font: bold 11px sans-serif; fill: #475569; }
"""


@dataclass
class Drawing:
    """A graph laid out: the node layout, each cluster's box (x, y, width, height) and its nesting depth."""

    layout: Layout
    boxes: dict
    depth: dict
    width: float
    height: float


def fmt(v: float) -> str:
    return f"{v:.4g}"


def stats_text(stats: dict | None) -> str:
    if not stats:
        return "—"
    return " ".join(f"{k} {fmt(v)}" for k, v in stats.items())


def tooltip(node) -> str:
    lines = [" ".join(node.lines)]
    if node.dtype:
        lines.append(f"dtype {node.dtype}")
    for key, value in node.details.items():
        if key not in ("input_shape", "output_shape", "module"):
            lines.append(f"{key}: {value}")
    lines.append("value: " + stats_text(node.value))
    lines.append("grad: " + stats_text(node.grad))
    return "\n".join(lines)


def cluster_depths(clusters: dict) -> dict:
    """path -> number of enclosing clusters (0 for an outermost one), following parents in a loop."""
    depth = {}
    for path in clusters:
        d, parent = 0, clusters[path].parent
        while parent is not None:
            d += 1
            parent = clusters[parent].parent
        depth[path] = d
    return depth


def draw(graph) -> Drawing:
    """Lay out the graph and put a box around each cluster's nodes (innermost first)."""
    sizes = []
    for node in graph.nodes:
        lines = node.lines
        sizes.append((max(len(t) for t in lines) * CHAR_WIDTH + 2 * PADDING, len(lines) * LINE_HEIGHT + PADDING))
    depth = cluster_depths(graph.clusters)
    nesting = max(depth.values(), default=-1) + 1
    row_gap = 24.0 + max(0, nesting - 1) * (CLUSTER_PAD + CLUSTER_LABEL) + (CLUSTER_PAD if nesting else 0.0)
    lay = layout(sizes, graph.edges, row_gap=row_gap, margin=20.0 + nesting * (CLUSTER_PAD + CLUSTER_LABEL))
    boxes = {}
    for node in graph.nodes:
        if node.cluster is None:
            continue
        i = node.id
        _grow(boxes, node.cluster, lay.x[i] - lay.width[i] / 2, lay.y[i] - lay.height[i] / 2,
              lay.x[i] + lay.width[i] / 2, lay.y[i] + lay.height[i] / 2)
    for path in sorted(graph.clusters, key=lambda p: -depth[p]):  # children first: pad, then grow the parent
        if path not in boxes:
            continue
        x0, y0, x1, y1 = boxes[path]
        boxes[path] = (x0 - CLUSTER_PAD, y0 - CLUSTER_PAD - CLUSTER_LABEL, x1 + CLUSTER_PAD, y1 + CLUSTER_PAD)
        parent = graph.clusters[path].parent
        if parent is not None:
            _grow(boxes, parent, *boxes[path])
    width = max([lay.total_width] + [b[2] + 20 for b in boxes.values()])
    height = max([lay.total_height] + [b[3] + 20 for b in boxes.values()])
    boxes = {p: (x0, y0, x1 - x0, y1 - y0) for p, (x0, y0, x1, y1) in boxes.items()}
    return Drawing(lay, boxes, depth, width, height)


def _grow(boxes: dict, path: str, x0, y0, x1, y1) -> None:
    if path in boxes:
        a, b, c, d = boxes[path]
        boxes[path] = (min(a, x0), min(b, y0), max(c, x1), max(d, y1))
    else:
        boxes[path] = (x0, y0, x1, y1)


def route_path(points) -> str:
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def svg(graph, drawing: Drawing | None = None, prefix: str = "") -> str:
    """The SVG text of a graph (``drawing``: an existing layout to reuse; ``prefix``: of every element id, to
    keep ids unique when a page holds several graphs)."""
    d = drawing or draw(graph)
    lay = d.layout
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{d.width:.0f}" height="{d.height:.0f}" '
           f'viewBox="0 0 {d.width:.0f} {d.height:.0f}" class="lamina-graph">',
           f'<defs><marker id="{prefix}arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>',
           f"<style>{STYLE}</style>", '<g class="clusters">']
    for i, path in enumerate(sorted(d.boxes, key=lambda p: d.depth[p])):
        x, y, w, h = d.boxes[path]
        label = escape(graph.clusters[path].label)
        out.append(f'<g class="cluster" id="{prefix}c{i}" data-path="{escape(path)}"><rect x="{x:.1f}" y="{y:.1f}" '
                   f'width="{w:.1f}" height="{h:.1f}" rx="6"/><text x="{x + 6:.1f}" y="{y + 13:.1f}">{label}</text>'
                   "</g>")
    out.append('</g><g class="edges">')
    for i, points in enumerate(lay.routes):
        kind = " saved" if graph.nodes[graph.edges[i][0]].kind == "saved" else ""
        out.append(f'<path class="edge{kind}" id="{prefix}e{i}" d="{route_path(points)}" '
                   f'marker-end="url(#{prefix}arrow)"/>')
    out.append('</g><g class="nodes">')
    for node in graph.nodes:
        i = node.id
        fill, stroke = COLORS.get(node.kind, COLORS["op"])
        x0, y0 = lay.x[i] - lay.width[i] / 2, lay.y[i] - lay.height[i] / 2
        parts = [f'<g class="node {node.kind}" id="{prefix}n{i}"><title>{escape(tooltip(node))}</title>'
                 f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{lay.width[i]:.1f}" height="{lay.height[i]:.1f}" '
                 f'rx="{4 if node.kind == "op" else 8}" fill="{fill}" stroke="{stroke}"/>']
        for k, line in enumerate(node.lines):
            cls = ' class="sub"' if k else ""
            parts.append(f'<text x="{lay.x[i]:.1f}" y="{y0 + PADDING / 2 + LINE_HEIGHT * (k + 0.75):.1f}" '
                         f'text-anchor="middle"{cls}>{escape(line)}</text>')
        parts.append("</g>")
        out.append("".join(parts))
    out.append("</g></svg>")
    return "\n".join(out)


def to_svg(graph, engine: str | None = None) -> str:
    if engine is None:
        return svg(graph)
    if engine != "dot":
        raise ValueError(f"to_svg: engine must be None (lamina's own layout) or 'dot' (graphviz), got {engine!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("to_svg(engine='dot') needs graphviz's `dot` program on the PATH; without engine= lamina "
                           "draws the SVG itself")
    result = subprocess.run([dot, "-Tsvg"], input=to_dot(graph), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"graphviz dot failed: {result.stderr.strip()}")
    return result.stdout


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph) -> str:
    """The graph in graphviz's DOT language: one statement per node and edge, modules as nested clusters."""
    lines = [f"digraph {_dot_string(graph.title)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
             '  edge [color="#6b7280"];']
    for node in graph.nodes:
        fill, stroke = COLORS.get(node.kind, COLORS["op"])
        lines.append(f'  n{node.id} [label={_dot_string(chr(10).join(node.lines))}, fillcolor="{fill}", '
                     f'color="{stroke}", tooltip={_dot_string(tooltip(node))}];')
    members, children = {}, {}
    for node in graph.nodes:
        if node.cluster is not None:
            members.setdefault(node.cluster, []).append(node.id)
    for path, cluster in graph.clusters.items():
        children.setdefault(cluster.parent, []).append(path)
    stack = [("open", p) for p in reversed(children.get(None, []))]
    index = {p: i for i, p in enumerate(graph.clusters)}
    depth = 1
    while stack:  # nested subgraphs without recursion: an "open" pushes its "close" below its children
        action, path = stack.pop()
        if action == "close":
            depth -= 1
            lines.append("  " * depth + "}")
            continue
        pad = "  " * depth
        lines.append(f"{pad}subgraph cluster_{index[path]} {{")
        lines.append(f'{pad}  label={_dot_string(graph.clusters[path].label)}; style="dashed,rounded"; '
                     'color="#94a3b8";')
        if members.get(path):
            lines.append(pad + "  " + "; ".join(f"n{i}" for i in members[path]) + ";")
        depth += 1
        stack.append(("close", path))
        stack.extend(("open", c) for c in reversed(children.get(path, [])))
    for a, b in graph.edges:
        style = ' [style=dashed, color="#ea580c"]' if graph.nodes[a].kind == "saved" else ""
        lines.append(f"  n{a} -> n{b}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"

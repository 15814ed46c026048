"""One self-contained HTML page of one or more graphs: inline SVG, inline data, a little inline JavaScript.

Nothing is fetched when the page is viewed (no fonts, scripts or styles from the network). Click a module's
box to collapse it to one bar (edges into and out of it then end at the bar, and what is below moves up) and
click again to expand it; hover over a node to see its shape, dtype, arguments and the statistics (min, max,
mean, L2 norm) of its value and of its gradient. ``page.html#collapse=0,2`` opens with modules 0 and 2
collapsed (``#collapse=all``: every module). For tests in a browser, each graph's section carries
``data-visible-nodes``, the page's root ``data-ready="1"`` once the script ran and ``data-js-errors`` the
message of any script error.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from lamina.viz.render import draw, svg, tooltip

PAGE_STYLE = """
body { font: 14px sans-serif; margin: 0; color: #111827; }
header { padding: 10px 16px; background: #f1f5f9; border-bottom: 1px solid #cbd5e1; }
section { padding: 8px 16px 24px; }
h1 { font-size: 18px; margin: 0; } h2 { font-size: 16px; margin: 12px 0 6px; }
.toolbar button { margin-right: 6px; }
.canvas { overflow: auto; border: 1px solid #e2e8f0; max-height: 80vh; }
.cluster { cursor: pointer; }
.node:hover rect { stroke-width: 2.5; }
#info { position: fixed; right: 12px; top: 12px; width: 330px; max-height: 90vh; overflow: auto; background: #fff;
        border: 1px solid #94a3b8; border-radius: 6px; padding: 8px 10px; font-size: 12px; display: none;
        box-shadow: 0 2px 8px rgba(0,0,0,.15); }
#info table { border-collapse: collapse; } #info td { padding: 1px 6px 1px 0; vertical-align: top; }
#info .head { font-weight: bold; font-size: 13px; }
.legend span { display: inline-block; padding: 1px 6px; margin-right: 6px; border-radius: 4px; font-size: 12px; }
"""

SCRIPT = r"""
(function () {
  const BAR = 30;
  const info = document.getElementById('info');
  function showInfo(title, rows) {
    let html = '<div class="head"></div><table>';
    for (const r of rows) html += '<tr><td></td><td></td></tr>';
    info.innerHTML = html + '</table>';
    info.querySelector('.head').textContent = title;
    const cells = info.querySelectorAll('td');
    rows.forEach((r, i) => { cells[2 * i].textContent = r[0]; cells[2 * i + 1].textContent = r[1]; });
    info.style.display = 'block';
  }
  function setup(section) {
    const data = JSON.parse(section.querySelector('script.graph-data').textContent);
    const svg = section.querySelector('svg');
    const p = data.prefix;
    const nodeEls = data.nodes.map((n, i) => document.getElementById(p + 'n' + i));
    const edgeEls = data.edges.map((e, i) => document.getElementById(p + 'e' + i));
    const clusterEls = {};
    svg.querySelectorAll('g.cluster').forEach(el => { clusterEls[el.dataset.path] = el; });
    const labels = {};
    for (const path in clusterEls) labels[path] = clusterEls[path].querySelector('text').textContent;
    const count = {};
    data.nodes.forEach(n => {
      for (let c = n.c; c !== null; c = data.clusters[c].parent) count[c] = (count[c] || 0) + 1;
    });
    const collapsed = new Set();
    let zoom = 1;
    function outer(path) {  // the outermost collapsed cluster around a cluster path (or null)
      let found = null;
      for (let c = path; c !== null && c !== undefined; c = data.clusters[c].parent) if (collapsed.has(c)) found = c;
      return found;
    }
    function update() {
      const shrink = [];
      for (const c of collapsed) if (outer(c) === c) {
        const b = data.clusters[c].box; shrink.push([b[1] + b[3], b[3] - BAR]);
      }
      const shift = y => { let s = 0; for (const [bottom, d] of shrink) if (y >= bottom - 0.01) s += d; return s; };
      data.nodes.forEach((n, i) => {
        const el = nodeEls[i];
        el.style.display = outer(n.c) === null ? '' : 'none';
        el.setAttribute('transform', 'translate(0,' + (-shift(n.y - n.h / 2)) + ')');
      });
      for (const path in clusterEls) {
        const el = clusterEls[path], b = data.clusters[path].box, rect = el.querySelector('rect');
        const parent = data.clusters[path].parent;
        el.style.display = outer(parent) === null ? '' : 'none';
        const top = b[1] - shift(b[1]);
        const isCollapsed = collapsed.has(path);
        rect.setAttribute('y', top);
        rect.setAttribute('height', isCollapsed ? BAR : b[1] + b[3] - shift(b[1] + b[3]) - top);
        const text = el.querySelector('text');
        text.setAttribute('y', top + 13);
        text.textContent = (isCollapsed ? '\u25b8 ' : '\u25be ') + labels[path] +
          (isCollapsed ? '  (' + count[path] + ' nodes)' : '');
      }
      const anchor = (i, end) => {  // where an edge ends at node i: the node, or the collapsed bar around it
        const n = data.nodes[i], c = outer(n.c);
        if (c === null) return null;
        const b = data.clusters[c].box, top = b[1] - shift(b[1]);
        return [b[0] + b[2] / 2, end ? top : top + BAR, c];
      };
      data.edges.forEach((e, i) => {
        const a = anchor(e[0], false), b = anchor(e[1], true), el = edgeEls[i];
        if (a && b && a[2] === b[2]) { el.style.display = 'none'; return; }
        el.style.display = '';
        let pts;
        if (!a && !b) pts = e[2].map(q => [q[0], q[1] - shift(q[1])]);
        else {
          const first = e[2][0], last = e[2][e[2].length - 1];
          pts = [a ? [a[0], a[1]] : [first[0], first[1] - shift(first[1])],
                 b ? [b[0], b[1]] : [last[0], last[1] - shift(last[1])]];
        }
        el.setAttribute('d', 'M' + pts.map(q => q[0].toFixed(1) + ',' + q[1].toFixed(1)).join(' L'));
      });
      section.dataset.visibleNodes = String(nodeEls.filter(el => el.style.display !== 'none').length);
      section.dataset.collapsed = Array.from(collapsed).join(',');
      const height = data.height - shrink.reduce((s, x) => s + x[1], 0);
      svg.setAttribute('viewBox', '0 0 ' + data.width + ' ' + height);
      svg.setAttribute('width', data.width * zoom);
      svg.setAttribute('height', height * zoom);
    }
    for (const path in clusterEls) {
      clusterEls[path].addEventListener('click', ev => {
        if (collapsed.has(path)) collapsed.delete(path); else collapsed.add(path);
        ev.stopPropagation(); update();
      });
      clusterEls[path].addEventListener('mouseenter', () => showInfo(labels[path],
        [['nodes', String(count[path] || 0)], ['click', collapsed.has(path) ? 'expand' : 'collapse']]));
    }
    nodeEls.forEach((el, i) => el.addEventListener('mouseenter', () => showInfo(data.nodes[i].t, data.nodes[i].r)));
    const act = {
      collapse: () => { for (const path in clusterEls) collapsed.add(path); },
      expand: () => collapsed.clear(),
      'zoom-in': () => { zoom *= 1.25; }, 'zoom-out': () => { zoom /= 1.25; },
    };
    section.querySelectorAll('.toolbar button').forEach(b => b.addEventListener('click', () => {
      act[b.dataset.action](); update();
    }));
    (data.collapsed || []).forEach(c => collapsed.add(c));
    for (const c of fromAddress()) {  // page.html#collapse=0,2 (module paths) or #collapse=all
      if (c === 'all') act.collapse(); else if (c in clusterEls) collapsed.add(c);
    }
    update();
  }
  function fromAddress() {
    const hash = typeof location === 'undefined' ? '' : location.hash;
    const m = /(?:^#|&)collapse=([^&]*)/.exec(hash);
    return m ? decodeURIComponent(m[1]).split(',') : [];
  }
  document.querySelectorAll('section.graph').forEach(setup);
  if (document.documentElement) document.documentElement.dataset.ready = '1';  // the script ran to its end
})();
"""


def _rows(node) -> list:
    """The hover panel of a node: (name, text) pairs."""
    rows = [["kind", node.kind]]
    if node.shape is not None and node.kind != "module":
        rows.append(["shape", str(tuple(node.shape))])
    if node.dtype:
        rows.append(["dtype", node.dtype])
    for key, value in node.details.items():
        rows.append([key.replace("_", " "), str(value)])
    for name, stats in (("value", node.value), ("grad", node.grad)):
        if stats:
            for k, v in stats.items():
                rows.append([f"{name} {k}", f"{v:.6g}"])
        else:
            rows.append([name, "not recorded" if name == "value" else "none (no backward, or not kept)"])
    return rows


def _section(graph, k: int, collapsed=()) -> str:
    drawing = draw(graph)
    prefix = f"g{k}-"
    lay = drawing.layout
    data = {
        "prefix": prefix,
        "width": round(drawing.width, 1),
        "height": round(drawing.height, 1),
        "nodes": [{"c": n.cluster, "y": round(lay.y[n.id], 1), "h": round(lay.height[n.id], 1),
                   "t": tooltip(n).split("\n")[0], "r": _rows(n)} for n in graph.nodes],
        "edges": [[a, b, [[round(x, 1), round(y, 1)] for x, y in route]]
                  for (a, b), route in zip(graph.edges, lay.routes)],
        "clusters": {p: {"parent": c.parent, "box": [round(v, 1) for v in drawing.boxes[p]]}
                     for p, c in graph.clusters.items() if p in drawing.boxes},
        "collapsed": [p for p in collapsed if p in drawing.boxes],
    }
    for c in data["clusters"].values():  # a parent without a box of its own (no nodes at all) is skipped
        while c["parent"] is not None and c["parent"] not in data["clusters"]:
            c["parent"] = graph.clusters[c["parent"]].parent
    for n in data["nodes"]:
        if n["c"] is not None and n["c"] not in data["clusters"]:
            n["c"] = None
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    picture = svg(graph, drawing, prefix).replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
    buttons = "".join(f'<button data-action="{a}">{label}</button>' for a, label in
                      (("collapse", "collapse all"), ("expand", "expand all"), ("zoom-out", "−"), ("zoom-in", "+")))
    counts = f"{len(graph.nodes)} nodes, {len(graph.edges)} edges, {len(graph.clusters)} modules"
    return (f'<section class="graph"><h2>{escape(graph.title)}</h2><div class="toolbar">{buttons} '
            f'<small>{counts}. Click a module to collapse or expand it; hover a node for its statistics.</small>'
            f'</div><div class="canvas">{picture}</div>'
            f'<script type="application/json" class="graph-data">{payload}</script></section>')


def page(graphs, title: str = "lamina", path=None, collapsed=()) -> str:
    """An HTML page holding each graph (a list of ``Graph``) with its controls; written to ``path`` if given.

    ``collapsed``: module paths to show collapsed when the page opens."""
    from lamina.viz.render import COLORS

    legend = "".join(f'<span style="background:{fill};border:1px solid {stroke}">{kind}</span>'
                     for kind, (fill, stroke) in COLORS.items())
    sections = "\n".join(_section(g, k, collapsed) for k, g in enumerate(graphs))
    return document(title, f'<header><h1>{escape(title)}</h1><div class="legend">{legend}</div></header>\n'
                           f"{sections}", path=path)


# Records any script error in <html data-js-errors="...">, so that a test can read it from the rendered DOM.
ERROR_RECORDER = """
(function () {
  function note(text) {
    const root = document.documentElement;
    root.setAttribute('data-js-errors', (root.getAttribute('data-js-errors') || '') + text + '\\n');
  }
  window.addEventListener('error', e => note(e.message || 'error'));
  window.addEventListener('unhandledrejection', e => note('unhandled rejection: ' + e.reason));
})();
"""


def document(title: str, body: str, style: str = "", path=None) -> str:
    """A whole page: ``body`` (HTML, which may hold graph sections made by ``_section``), the graph script and
    the error recorder; written to ``path`` if given."""
    html = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<script id="lamina-errors">{ERROR_RECORDER}</script>'
            f'<style>{PAGE_STYLE}{style}</style></head><body>{body}\n<div id="info"></div>'
            f"<script>{SCRIPT}</script></body></html>\n")
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    return html

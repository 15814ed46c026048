"""Drawing the graph: the layered layout, DOT text, SVG that parses as XML, and the self-contained HTML page."""

import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import lamina
from lamina import nn, viz
from lamina.viz.layout import layout, rows_of

SVG = "{http://www.w3.org/2000/svg}"


def model_and_batch():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 8), nn.Tanh()), nn.Linear(8, 3))
    return model, lamina.randn(5, 4), lamina.tensor([0, 1, 2, 0, 1])


def test_rows_by_longest_path_with_inputs_just_above_their_first_consumer():
    # 0 -> 2, 1 -> 2, 2 -> 3, 2 -> 4, 3 -> 4, 5 -> 4 (5: a late parameter)
    edges = [(0, 2), (1, 2), (2, 3), (2, 4), (3, 4), (5, 4)]
    rows = rows_of(6, edges)
    assert rows[0] == rows[1] < rows[2] < rows[3] < rows[4]
    assert rows[3] < rows[5] < rows[4]  # beside the data it meets, not at the top
    with pytest.raises(ValueError, match="cycle"):
        rows_of(2, [(0, 1), (1, 0)])


def test_layout_keeps_nodes_apart_and_routes_long_edges_through_bend_points():
    sizes = [(60, 30)] * 5
    edges = [(0, 1), (1, 2), (2, 3), (0, 3), (4, 3)]
    lay = layout(sizes, edges)
    for a in range(5):
        for b in range(a + 1, 5):
            if lay.row[a] == lay.row[b]:
                assert abs(lay.x[a] - lay.x[b]) >= 60, (a, b)
    long_route = lay.routes[3]
    assert len(long_route) == 2 + (lay.row[3] - lay.row[0] - 1)
    assert [p[1] for p in long_route] == sorted(p[1] for p in long_route)


def test_dot_is_well_formed_with_every_node_edge_and_nested_cluster():
    model, x, y = model_and_batch()
    g = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss(), level="op")
    dot = g.to_dot()
    assert dot.startswith("digraph ") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    assert len(re.findall(r"^\s*n\d+ \[label=", dot, re.M)) == len(g.nodes)
    assert len(re.findall(r"^\s*n\d+ -> n\d+;", dot, re.M)) == len(g.edges)
    assert dot.count("subgraph cluster_") == len(g.clusters)
    if shutil.which("dot"):
        assert "<svg" in g.to_svg(engine="dot")


def test_svg_parses_as_xml_with_one_element_per_node_edge_and_cluster():
    model, x, y = model_and_batch()
    for level in ("op", "module"):
        g = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss(), level=level)
        root = ET.fromstring(g.to_svg())
        groups = root.iter(f"{SVG}g")
        classes = [el.get("class", "") for el in groups]
        assert sum("node" in c.split() for c in classes) == len(g.nodes)
        assert sum(c == "cluster" for c in classes) == len(g.clusters)
        assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]) == len(g.edges)
        titles = [t.text for t in root.iter(f"{SVG}title")]
        assert all("value: min" in t for t in titles)  # hover statistics, even without the HTML page


def test_svg_text_is_escaped():
    x = lamina.ones(2, requires_grad=True)
    g = viz.graph((x * 2).sum(), params={"<w&b>": x})
    ET.fromstring(g.to_svg())
    assert "&lt;w&amp;b&gt;" in g.to_svg()


def test_to_svg_engine_errors_name_the_problem(monkeypatch):
    g = viz.graph((lamina.ones(2, requires_grad=True) * 2).sum())
    with pytest.raises(ValueError, match="engine"):
        g.to_svg(engine="neato")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="graphviz"):
        g.to_svg(engine="dot")


def test_html_is_one_offline_file_with_the_svg_the_data_and_the_script(tmp_path):
    model, x, y = model_and_batch()
    graphs = [viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss(), level=lv) for lv in ("module", "op")]
    html = viz.page(graphs, title="mlp", path=tmp_path / "g.html")
    assert (tmp_path / "g.html").read_text(encoding="utf-8") == html
    assert html.count("<svg") == 2 and html.count('class="graph-data"') == 2 and "<script>" in html
    assert "http://" not in html and "https://" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"""\b(src|href)\s*=""", html)
    for k, g in enumerate(graphs):
        assert len(re.findall(rf'id="g{k}-n\d+"', html)) == len(g.nodes)
    assert graphs[0].to_html().count("<svg") == 1


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_html_script_collapses_and_expands_modules_in_a_stub_dom(tmp_path):
    model, x, y = model_and_batch()
    g = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss(), level="op")
    g.to_html(tmp_path / "g.html")
    out = subprocess.run(["node", str(Path(__file__).with_name("dom_stub.js")), str(tmp_path / "g.html")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"nodes {len(g.nodes)} hidden 0" in lines[0]
    assert "collapse all -> hidden 12" in out.stdout  # all but the input and the target
    assert "expand all -> hidden 0" in out.stdout and "hover shows block" in out.stdout


def test_ten_thousand_nodes_render_to_svg_in_under_two_seconds():
    x = lamina.ones(3, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    g = viz.graph(y)
    start = time.perf_counter()
    svg = g.to_svg()
    elapsed = time.perf_counter() - start
    assert svg.count('<g class="node ') == 10_001
    assert elapsed < 2.0, f"{elapsed:.2f} s"

"""`lamina report RUN`: one self-contained page, checked as text and, when chromium is installed, in a real browser
(the DOM after the page's script ran, collapsing modules from the address, no script errors, a screenshot)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lamina import nn, viz
from lamina.cli import main
from lamina.cli.commands import _test_batch
from lamina.cli.runs import load_run

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("matplotlib")
    run = tmp_path_factory.mktemp("report") / "xor"
    assert main(["train", "--data", "xor", "--out", str(run), "--no-progress", "--epochs", "3"]) == 0
    assert main(["report", str(run), "--batch-size", "4"]) == 0
    return run


def expected_graphs(run):
    """The graphs the report draws, built here again: (module level, op level)."""
    config, model = load_run(run)
    X, y = _test_batch(config, 4)
    model.eval()
    return [viz.graph(model, X, target=y, loss_fn=nn.CrossEntropyLoss(), level=lv) for lv in ("module", "op")]


def sections(dom: str) -> list:
    """Each graph section of a page: its opening tag and its text."""
    return re.findall(r'(<section class="graph"[^>]*>)(.*?)</section>', dom, re.S)


def test_the_report_is_one_offline_file_with_every_part(run, capsys):
    html = (run / "report.html").read_text(encoding="utf-8")
    for heading in ("Final metrics", "Configuration", "Loss and metric curves", "Confusion matrix", "Training health",
                    "Building blocks of one batch", "Computation graph"):
        assert f"<h2>{heading}" in html, heading
    assert "http://" not in html and "https://" not in html and "<link" not in html and "@import" not in html
    assert all(v.startswith("data:image/png;base64,") for v in re.findall(r'\bsrc="([^"]*)"', html))
    assert all(v.startswith("#") for v in re.findall(r'\bhref="([^"]*)"', html))
    assert len(re.findall(r'src="data:image/png', html)) >= 6  # curves, confusion, 3 health plots, trace
    graphs = expected_graphs(run)
    found = sections(html)
    assert len(found) == 2
    for (_, body), g in zip(found, graphs):
        assert len(re.findall(r'<g class="node ', body)) == len(g.nodes)
        assert len(re.findall(r'<path class="edge"', body)) == len(g.edges)
    assert main(["report", str(run.parent / "missing")]) == 2
    assert "run folder" in capsys.readouterr().err


def render(url: str, *extra) -> str:
    out = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=2000",
                          *extra, url], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def hidden_nodes(body: str) -> int:
    return len(re.findall(r'<g class="node [^"]*"[^>]*style="display: none;"', body))


@pytest.mark.skipif(BROWSER is None, reason="no chromium: install Debian's chromium package (.ci/run does)")
def test_the_report_in_a_real_browser(run, tmp_path):
    url = (run / "report.html").resolve().as_uri()
    graphs = expected_graphs(run)
    dom = render(url, "--dump-dom")
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert 'data-ready="1"' in root, root  # the script ran to its end
    assert "data-js-errors" not in root, root
    found = sections(dom)
    assert len(found) == 2
    for (tag, body), g in zip(found, graphs):
        assert f'data-visible-nodes="{len(g.nodes)}"' in tag and hidden_nodes(body) == 0

    # collapsing module 0 (the first Linear) from the address hides its ops and parameters in the op graph
    inside = sum(1 for n in graphs[1].nodes if n.cluster == "0")
    assert inside == 3  # its op, its weight, its bias
    found = sections(render(url + "#collapse=0", "--dump-dom"))
    assert 'data-collapsed="0"' in found[1][0]
    assert f'data-visible-nodes="{len(graphs[1].nodes) - inside}"' in found[1][0]
    assert hidden_nodes(found[1][1]) == inside
    assert f'data-visible-nodes="{len(graphs[0].nodes)}"' in found[0][0]  # no module 0 cluster at module level

    # collapsing everything leaves what is outside every module: the input and target (and their loss node)
    found = sections(render(url + "#collapse=all", "--dump-dom"))
    for (tag, body), g in zip(found, graphs):
        outside = sum(1 for n in g.nodes if n.cluster is None)
        assert f'data-visible-nodes="{outside}"' in tag and hidden_nodes(body) == len(g.nodes) - outside

    shot = Path(os.environ.get("LAMINA_SCREENSHOTS", tmp_path)) / "report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    render(url, f"--screenshot={shot}", "--window-size=1280,4000")
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 50_000


@pytest.mark.skipif(BROWSER is None, reason="no chromium: install Debian's chromium package (.ci/run does)")
def test_a_script_error_shows_in_the_rendered_dom(tmp_path):
    report = viz.Report("broken").html("a faulty block", "<script>no_such_function();</script>")
    page = report.to_html(tmp_path / "b.html")
    assert "no_such_function" in page
    root = re.search(r"<html[^>]*>", render((tmp_path / "b.html").as_uri(), "--dump-dom")).group(0)
    assert "data-js-errors=" in root and "no_such_function" in root

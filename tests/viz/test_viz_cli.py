"""`lamina graph RUN` writes graph.html: the trained model's graph by module and by operation."""

import re

from lamina.cli import main


def test_graph_command_writes_both_levels_into_the_run_folder(tmp_path, capsys):
    run = tmp_path / "xor"
    assert main(["train", "--data", "xor", "--out", str(run), "--no-progress", "--epochs", "2"]) == 0
    capsys.readouterr()
    assert main(["graph", str(run), "--batch-size", "4"]) == 0
    assert f"wrote {run / 'graph.html'}" in capsys.readouterr().out
    html = (run / "graph.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "http://" not in html
    assert len(re.findall(r'<g class="node module"', html)) == 4  # Linear, Tanh, Linear and the loss
    assert "2: Linear" in html and "CrossEntropy" in html


def test_graph_command_on_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["graph", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("lamina: error: run folder")

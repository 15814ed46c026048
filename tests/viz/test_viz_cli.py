"""`lamina graph RUN` writes graph.html: the trained model's graph by module and by operation."""

import json
import re

import pytest

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


def test_train_saves_health_json_and_plot_draws_it(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = tmp_path / "xor"
    assert main(["train", "--data", "xor", "--out", str(run), "--no-progress", "--epochs", "3"]) == 0
    health = json.loads((run / "health.json").read_text())
    assert set(health["layers"]) == {"0", "1", "2"} and len(health["layers"]["0"]["grad_norm"]) == 3
    assert health["kinds"]["1"] == "tanh"
    capsys.readouterr()
    assert main(["plot", str(run)]) == 0
    out = capsys.readouterr().out
    for name in ("health.png", "health_activations.png", "health_gradients.png"):
        assert f"wrote {run / name}" in out and (run / name).is_file()

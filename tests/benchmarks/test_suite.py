"""The benchmark suite must keep running: the tiny setting end to end, and the pieces its figures rest on.

No test here asserts a time or a ratio's value: only that the report is complete and its numbers sane.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from benchmarks import cnn, data, harness, memory, nets, report  # noqa: E402
from benchmarks.__main__ import parse_args  # noqa: E402
from benchmarks.floor import MatmulFloor  # noqa: E402

EVERY_KEY = {"a", "b32", "b1024", "c", "d", "e_epoch", "f128", "f1024", "g_traced", "g_rss", "i_lstm", "i_bigru",
             "i_transformer", "i_generate", "j_lenet", "j_conv", "j_conv1d", "j_infer", "j_traced", "j_rss"}


def sane(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--repeats", "1", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text(), json.loads(out.with_suffix(".json").read_text())


def test_quick_report_has_every_section(quick_run):
    text, record = quick_run
    assert "Tiny setting" in text and "not measurements" in text
    for heading in ["## Environment", "## Summary", *(f"## {h}" for h in report.SECTIONS.values())]:
        assert heading in text
    assert "Not run" not in text
    for needle in ["Python", "NumPy", "PyTorch", "CPU", "Threads", "Analytic minimum = 4 bytes x (4P + B x"]:
        assert needle in text
    keys = {c["key"] for c in record["comparisons"]}
    assert EVERY_KEY <= keys
    expected_peers = {"torch", "jax"} if record["environment"]["jax"] else {"torch"}
    for c in record["comparisons"]:
        if c["key"] in {"a", "b32", "b1024", "c", "d"}:
            assert set(c["values"]) == {"lamina"} | expected_peers
    if not record["environment"]["jax"]:
        assert "JAX not installed" in text


def test_quick_report_numbers_are_positive_and_finite(quick_run):
    _, record = quick_run
    env = record["environment"]
    assert env["numpy_blas_threads"] >= 1 and env["torch_threads"] == env["numpy_blas_threads"]
    for c in record["comparisons"]:
        assert c["values"]["lamina"], c["key"]
        for side, values in c["values"].items():
            assert values and all(sane(v) for v in values), (c["key"], side, values)
        assert c["summary"]["ratios"], c["key"]
        for peer, r in c["summary"]["ratios"].items():
            assert sane(r["of_medians"]) and sane(r["per_round_median"]), (c["key"], peer, r)
            assert r["pass"] in (True, False, None)


def test_ratios_of_medians_and_per_round_median():
    c = harness.Comparison("x", "t", "samples/s", {"lamina": [4.0, 6.0, 10.0], "torch": [2.0, 6.0, 2.0]},
                           targets={"torch": harness.Target(">=", 1.3)})
    r = c.summary()["ratios"]["torch"]
    assert r["of_medians"] == pytest.approx(6.0 / 2.0)
    assert r["per_round_median"] == pytest.approx(2.0)  # per-round ratios 2, 1, 5
    assert r["pass"] is True and r["target"] == "≥ 1.3x"
    times = harness.Comparison("e", "t", "s", {"lamina": [1.0, 2.0], "sk": [4.0, 4.0]}, ratio_kind="time speedup",
                               targets={"sk": harness.Target(">=", 3.0)})
    r = times.summary()["ratios"]["sk"]
    assert r["of_medians"] == pytest.approx(4.0 / 1.5) and r["pass"] is False
    assert harness.Target("<", 1.0).check(0.99) and not harness.Target("<", 1.0).check(1.0)


def test_interleave_alternates_sides_and_excludes_warmup():
    calls = []
    sides = {"lamina": lambda n: calls.append(("lamina", n)), "torch": lambda n: calls.append(("torch", n))}
    seconds = harness.interleave(sides, steps=5, repeats=3, warmup=2)
    assert calls == [("lamina", 2), ("torch", 2)] + [("lamina", 5), ("torch", 5)] * 3
    assert {k: len(v) for k, v in seconds.items()} == {"lamina": 3, "torch": 3}


def test_analytic_minimum_formula():
    p = 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    assert memory.parameter_count(data.MLP_SIZES) == p == 535_818
    assert memory.analytic_minimum(128) == 4 * (4 * p + 128 * (512 + 256 + 10)) == 8_971_424


def test_lenet_analytic_minimum_counts_the_model_and_its_buffers():
    import lamina

    assert cnn.LENET_PARAMETERS == sum(p.numel() for p in cnn.lenet(lamina).parameters()) == 61_706
    kept = 25 * 784 + 6 * 784 + 150 * 100 + 16 * 100 + 400 + 120 + 84 + 10
    assert cnn.analytic_minimum(64) == 4 * (4 * 61_706 + 64 * (kept + 150 * 100)) == 15_455_904


def test_cnn_sides_start_equal_and_agree():
    x, y = cnn.images(128)
    sides = [cnn.Trainer(lib, "lenet", x, y, 64) for lib in ("lamina", "torch")]
    for a, b in zip(sides[0].model.parameters(), sides[1].model.parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
    for side in sides:
        side(2)
    assert sides[0].loss == pytest.approx(sides[1].loss, rel=1e-4)
    rng = np.random.default_rng(0)
    shapes = [(2, 32, 14, 14), (64, 32, 3, 3), (64,), (2, 64, 14, 14)]
    args = [rng.standard_normal(shape, dtype=np.float32) for shape in shapes]
    steps = [cnn.ConvStep(lib, *args) for lib in ("lamina", "torch")]
    for step in steps:
        step(1)
    for a, b in zip(*(step.grads() for step in steps)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_lamina_and_torch_sides_start_equal_and_train_the_same_trajectory():
    x, y = data.mnist_like(256)
    weights = data.initial_weights(nets.MLP.sizes)
    sides = [nets.LaminaTrainer(nets.MLP, weights, x, y, 64), nets.TorchTrainer(nets.MLP, weights, x, y, 64)]
    drawn = [a for pair in weights for a in pair]
    lamina_params, torch_params = list(sides[0].model.parameters()), list(sides[1].model.parameters())
    assert len(drawn) == len(lamina_params) == len(torch_params) == 6
    for a, lam, tor in zip(drawn, lamina_params, torch_params):
        assert np.array_equal(lam.detach().numpy(), a) and np.array_equal(tor.detach().numpy(), a)
    for side in sides:
        side(3)
    assert sides[0].loss == pytest.approx(sides[1].loss, rel=1e-4)
    diff = np.abs(sides[0].model[0].weight.detach().numpy() - sides[1].model[0].weight.detach().numpy())
    # Adam divides by sqrt(v): where a gradient is ~0, float rounding can move that weight by up to lr per step,
    # so a handful of elements may differ by more than rounding; the rest must match closely.
    assert np.mean(diff > 1e-5) < 1e-3 and diff.max() <= 2 * 3 * nets.MLP.lr


def test_xor_sides_agree():
    x, y = data.xor()
    weights = data.initial_weights(nets.XOR.sizes)
    sides = [nets.LaminaTrainer(nets.XOR, weights, x, y, 4), nets.TorchTrainer(nets.XOR, weights, x, y, 4)]
    for side in sides:
        side(10)
    assert sides[0].loss == pytest.approx(sides[1].loss, rel=1e-4)


def test_matmul_floor_computes_the_eight_products_of_a_step():
    x, _ = data.mnist_like(64)
    weights = data.initial_weights(nets.MLP.sizes)
    floor = MatmulFloor(weights, x, 32)
    floor(1)
    (w1, _), (w2, _), (w3, _) = weights
    xb = x[:32]
    h1 = xb @ w1.T
    h2 = h1 @ w2.T
    np.testing.assert_allclose(floor.out, h2 @ w3.T, rtol=1e-4, atol=1e-5)
    g_h2 = floor.g_out @ w3
    g_h1 = g_h2 @ w2
    np.testing.assert_allclose(floor.g_w3, floor.g_out.T @ h2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(floor.g_w2, g_h2.T @ h1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(floor.g_w1, g_h1.T @ xb, rtol=1e-4, atol=1e-5)


def test_command_line_validation():
    assert parse_args(["--only", "a,c"]).only == "ac"
    with pytest.raises(SystemExit):
        parse_args(["--only", "z"])
    with pytest.raises(SystemExit):
        parse_args(["--repeats", "0"])


def test_profile_prints_both_tables():
    from benchmarks.profile import profile

    text = profile("c", steps=5, top=5)
    assert "top 5 functions by cumulative time" in text and "Ordered by: cumulative time" in text
    assert "top 5 functions by own (total) time" in text and "Ordered by: internal time" in text
    assert "lamina/autograd/" in text  # paths relative to the repository, so the engine's files are named

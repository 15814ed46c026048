"""DistributedDataParallel and SyncBatchNorm under `mpiexec -n 2/3/4`: after a few steps every rank holds
bitwise-identical weights, equal (to 1e-6 relative) to one process stepping on the concatenated batches."""

import numpy as np
import pytest
from mpi_jobs import run_job
from mpi_worker import GLOBAL_BATCH, STEPS, VARIANTS, data, make_opt, net

import lamina
from lamina import nn


@pytest.fixture(scope="module", params=[2, 3, 4])
def ranks(request, tmp_path_factory):
    """Each rank's final weights of every variant, from one `mpiexec -n P` job."""
    out = tmp_path_factory.mktemp(f"ddp{request.param}")
    run_job(request.param, "ddp", out)
    return request.param, [dict(np.load(out / f"rank{r}.npz")) for r in range(request.param)]


def single_process(name, p):
    """The same steps in one process: each step on the global batch (with dropout: each rank's slice under that
    rank's random stream, the slices' mean losses averaged, which is the global batch's mean loss)."""
    kind, dropout, bn = VARIANTS[name]
    X, y = data()
    lamina.manual_seed(0)
    model = net(dropout, bn)
    opt = make_opt(kind, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    streams = []
    for r in range(p):
        lamina.manual_seed(100 + r)
        streams.append(lamina.random.get_rng_state())
    for k in range(STEPS):
        rows = np.arange(k * GLOBAL_BATCH, (k + 1) * GLOBAL_BATCH)
        if dropout:
            losses = []
            for r, part in enumerate(np.array_split(rows, p)):
                lamina.random.set_rng_state(streams[r])
                losses.append(loss_fn(model(lamina.from_numpy(X[part])), lamina.from_numpy(y[part])))
                streams[r] = lamina.random.get_rng_state()
            loss = sum(losses[1:], losses[0]) / p
        else:
            loss = loss_fn(model(lamina.from_numpy(X[rows])), lamina.from_numpy(y[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: t.array for k, t in model.state_dict().items()}


def test_every_rank_holds_bitwise_identical_weights(ranks):
    p, results = ranks
    for r in range(1, p):
        assert results[r].keys() == results[0].keys()
        for key in results[0]:
            assert np.array_equal(results[r][key], results[0][key]), f"rank {r} differs from rank 0 in {key}"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_weights_equal_a_single_process_on_the_concatenated_batch(ranks, name):
    p, results = ranks
    expected = single_process(name, p)
    moved = 0.0
    for key, want in expected.items():
        got = results[0][f"{name}/{key}"]
        scale = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * scale, err_msg=f"{name}: {key} at p={p}")
        if key.endswith("weight"):
            lamina.manual_seed(0)
            moved = max(moved, float(np.abs(want - dict(net(*VARIANTS[name][1:]).state_dict())[key].array).max()))
    assert moved > 1e-3  # the steps did move the weights: the comparison is not of initial values

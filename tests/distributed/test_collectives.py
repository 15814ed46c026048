"""The collectives on lamina tensors under `mpiexec -n 3`: every rank gets the reduced, broadcast or gathered
values, in place, whatever the tensor's dtype and memory order."""

import json

import numpy as np
from mpi_jobs import run_job


def test_all_reduce_broadcast_and_all_gather_on_three_ranks(tmp_path):
    run_job(3, "collectives", tmp_path)
    values = [np.array([[r + 1.0, -r], [2.0 * r, 0.5]], dtype=np.float32) for r in range(3)]
    expected = {"SUM": sum(values), "AVG": sum(values) / 3, "PRODUCT": values[0] * values[1] * values[2],
                "MIN": np.minimum.reduce(values), "MAX": np.maximum.reduce(values)}
    for r in range(3):
        got = np.load(tmp_path / f"rank{r}.npz")
        for op, want in expected.items():
            np.testing.assert_allclose(got[op], want, rtol=1e-7, err_msg=f"{op} on rank {r}")
            assert got[op].dtype == np.float32
        np.testing.assert_array_equal(got["fortran"], np.full((2, 3), 0 + 1 + 2))
        np.testing.assert_array_equal(got["broadcast"], [2, 20])  # from the last rank
        assert got["broadcast"].dtype == np.int64
        np.testing.assert_array_equal(got["all_gather"], [[0, 0], [1, -1], [2, -2]])
        assert json.loads(got["objects"][0]) == ["from 1", {"rank": 1}]

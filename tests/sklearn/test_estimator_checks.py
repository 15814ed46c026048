"""scikit-learn's own estimator test suite, whole, for both estimators: every check passes, none is declared as an
expected failure. It runs in a subprocess with SCIPY_ARRAY_API=1, which scipy reads at import, so that the array
API check runs too instead of skipping."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
import threadpoolctl
from sklearn.utils.estimator_checks import check_estimator
from lamina.sklearn import LaminaClassifier, LaminaRegressor

threadpoolctl.threadpool_limits(1)
est = {"LaminaClassifier": LaminaClassifier, "LaminaRegressor": LaminaRegressor}[sys.argv[1]]()
results = check_estimator(est, on_fail=None)
print(json.dumps([[r["check_name"], r["status"], repr(r["exception"])[:500]] for r in results]))
"""


@pytest.mark.parametrize("name", ["LaminaClassifier", "LaminaRegressor"])
def test_check_estimator_passes_every_check(name):
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, name], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    names = {check for check, _, _ in results}
    assert len(results) > 50 and {"check_estimators_pickle", "check_methods_subset_invariance",
                                  "check_fit_idempotent", "check_array_api_input"} <= names
    failed = [r for r in results if r[1] != "passed"]
    assert not failed, failed

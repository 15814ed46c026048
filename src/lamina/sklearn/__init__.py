"""scikit-learn estimators over lamina's training loop: ``LaminaClassifier`` and ``LaminaRegressor``.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from lamina.sklearn import LaminaClassifier

    clf = make_pipeline(StandardScaler(), LaminaClassifier(hidden_layer_sizes=(64,), epochs=30, random_state=0))
    clf.fit(X_train, y_train).score(X_test, y_test)

- ``mlp``: the multilayer perceptron the estimators (and the ``lamina`` command) build by default, and the
  feature scaler the command keeps in a run's config. It needs NumPy and ``lamina.nn`` only.
- ``estimators``: the two estimators (scikit-learn loads with them, on first use of either name, so that
  ``import lamina.sklearn.mlp`` stays light).
"""

from lamina.sklearn.mlp import ACTIVATIONS, build_mlp, fit_scaler, mlp, scale_rows

__all__ = ["LaminaClassifier", "LaminaRegressor", "ACTIVATIONS", "build_mlp", "fit_scaler", "mlp", "scale_rows"]


def __getattr__(name):
    if name in ("LaminaClassifier", "LaminaRegressor"):
        from lamina.sklearn import estimators  # scikit-learn takes ~1 s to import: only when an estimator is used

        return getattr(estimators, name)
    raise AttributeError(f"module 'lamina.sklearn' has no attribute {name!r}")

"""scikit-learn estimators over lamina's training loop: ``LaminaClassifier`` and ``LaminaRegressor``.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from lamina.sklearn import LaminaClassifier

    clf = make_pipeline(StandardScaler(), LaminaClassifier(hidden_layer_sizes=(64,), epochs=30, random_state=0))
    clf.fit(X_train, y_train).score(X_test, y_test)

- ``mlp``: the multilayer perceptron the estimators (and the ``lamina`` command) build by default, and the
  feature and target scalers the command keeps in a run's config.
- ``parts``: the rest of what the estimators and the command share: the optimizer and the loss by name, each
  task's loss and metric, the forward pass predictions come from, class labels from outputs, scores. The
  command's table runs train, predict and score through these and ``mlp``.
- ``estimators``: the two estimators (scikit-learn loads with them, on first use of either name, so that
  ``import lamina.sklearn.mlp`` stays light).
"""

from lamina.sklearn.mlp import ACTIVATIONS, build_mlp, fit_scaler, fit_target_scaler, mlp, scale_rows, scale_targets
from lamina.sklearn.parts import make_loss, make_optimizer, outputs, predicted_classes, scores

__all__ = ["LaminaClassifier", "LaminaRegressor", "ACTIVATIONS", "build_mlp", "fit_scaler", "fit_target_scaler", "mlp",
           "scale_rows", "scale_targets", "make_loss", "make_optimizer", "outputs", "predicted_classes", "scores"]


def __getattr__(name):
    if name in ("LaminaClassifier", "LaminaRegressor"):
        from lamina.sklearn import estimators  # scikit-learn takes ~1 s to import: only when an estimator is used

        return getattr(estimators, name)
    raise AttributeError(f"module 'lamina.sklearn' has no attribute {name!r}")

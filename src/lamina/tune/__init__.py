"""Hyperparameter search with Optuna (``pip install lamina[tune]``): TPE sampling, Hyperband (or median) pruning
through a lamina callback that reports every epoch, and a study kept in a database (SQLite by default) so that an
interrupted search resumes and several processes can share one.

- ``space``: the search space (``SearchSpace``): from a dict, command-line ranges (``1e-4:1e-1``, ``relu,tanh``)
  or a small TOML file; defaults for tables (an MLP). No Optuna needed to build one.
- ``pruning``: ``PruningCallback(trial, monitor)``, a lamina callback for ``fit`` (or a loop of one's own) that
  reports the monitored value to Optuna after every epoch and stops a trial the pruner gives up on.
- ``search``: ``search(objective_or_config, n_trials, storage=...)``: an Optuna objective, or a config (data,
  space, epochs) whose objective trains a ``LaminaClassifier`` or ``LaminaRegressor``; ``trials_table``.

Optuna is imported by the functions that need it, never by ``import lamina.tune``.
"""

from lamina.tune.pruning import PruningCallback
from lamina.tune.search import optuna_module, search, trials_table
from lamina.tune.space import SearchSpace, default_space, load_space

__all__ = ["search", "PruningCallback", "SearchSpace", "default_space", "load_space", "trials_table", "optuna_module"]

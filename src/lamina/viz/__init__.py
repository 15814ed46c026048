"""Seeing inside: pictures of the computation graph and of each layer's forward and backward pass.

- ``graph(loss, params=dict(model.named_parameters()))`` or ``graph(model, x)``: a ``Graph`` with
  ``to_dot()``, ``to_svg()`` (drawn by lamina, no graphviz needed) and ``to_html(path)`` (one offline page:
  collapse and expand modules, a tensor's statistics on hover).
- ``trace(model, x, y, loss_fn)``: each layer's building block, a[l-1], W, b → z, a forward and
  dA → dZ, dW, db, dA[l-1] backward, printed as a table or drawn as a figure.
- ``Report``: one self-contained HTML page of tables, inlined images, traces and interactive graphs.
- ``TrainingHealth``: the callback ``fit`` runs by default (defined in ``lamina.training.health``).
"""

from lamina.training.health import TrainingHealth  # lives with fit, which runs it by default
from lamina.viz.graph import Cluster, Graph, Node, graph, tensor_stats
from lamina.viz.html import page
from lamina.viz.report import Report
from lamina.viz.trace import LayerTrace, TensorInfo, Trace, trace

__all__ = ["Graph", "Node", "Cluster", "graph", "tensor_stats", "page", "trace", "Trace", "LayerTrace", "TensorInfo",
           "TrainingHealth", "Report"]

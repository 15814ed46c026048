"""The process group: MPI's COMM_WORLD through mpi4py, and the collectives on lamina tensors.

Every collective works in place on the tensor's NumPy array with mpi4py's buffer methods (``Allreduce``,
``Bcast``, ``Allgather``): no pickling and no copy where the array is contiguous. mpi4py is imported by
``init()`` (and by every function here that needs it), never by ``import lamina``.

A job must never hang because one process failed. ``init()`` therefore installs
- an exception hook: an uncaught exception on any rank prints the traceback under a line naming the rank, then
  calls ``MPI_Abort``, which makes ``mpiexec`` end every process of the job with an error;
- a watchdog thread: a collective that has waited longer than ``timeout`` seconds (default 1800, as PyTorch's;
  ``LAMINA_DIST_TIMEOUT`` in the environment) names the rank and the collective and aborts the job.
A process that is killed outright is reported by ``mpiexec`` itself (``BAD TERMINATION ... PID``), which then
ends the others within a second; ``describe()`` gives the rank of each pid.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import threading
import time
import traceback

import numpy as np

from lamina.tensor import Tensor

INSTALL = ("lamina.distributed needs mpi4py and an MPI library: pip install 'lamina[mpi]' "
           "(or: pip install mpi4py mpich), then launch with `mpiexec -n 4 python script.py`")

_group: dict = {}  # "comm", "MPI", "timeout", "peers": the state of the initialised process group
_pending: list = [None]  # (name, start time) of the collective in progress, for the watchdog


class ReduceOp:
    """The reductions of ``all_reduce``, under PyTorch's names."""

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


def _mpi():
    try:
        from mpi4py import MPI  # imported on first use only: `import lamina` never loads MPI
    except ImportError as err:
        raise ImportError(f"{INSTALL} ({err})") from None
    return MPI


def launched() -> bool:
    """True when this process was started by ``mpiexec`` (or srun) with more than one process: read from the
    launcher's environment (MPICH's and Intel's PMI_SIZE, Open MPI's OMPI_COMM_WORLD_SIZE), without MPI."""
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        try:
            if int(os.environ.get(name, "1")) > 1:
                return True
        except ValueError:
            pass
    return False


def init(timeout: float | None = None) -> None:
    """Join the job's process group (MPI's COMM_WORLD); a second call does nothing. Without ``mpiexec`` this is a
    group of one. ``timeout``: seconds a collective may wait for the other ranks before the job is aborted."""
    if _group:
        return
    MPI = _mpi()
    if timeout is None:
        timeout = float(os.environ.get("LAMINA_DIST_TIMEOUT", "1800"))
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    comm = MPI.COMM_WORLD
    _group.update(comm=comm, MPI=MPI, timeout=float(timeout))
    _group["peers"] = comm.allgather((socket.gethostname(), os.getpid()))
    if comm.Get_size() > 1:
        _install_failure_handling()


init_process_group = init  # PyTorch's name (backend and init_method are MPI's business here)


def is_initialized() -> bool:
    return bool(_group)


def is_available() -> bool:
    """True when mpi4py is installed (checked without importing it, which would start MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def _comm():
    if not _group:
        raise RuntimeError("lamina.distributed is not initialized: call lamina.distributed.init() first")
    return _group["comm"]


def rank() -> int:
    """This process's rank, 0 .. world_size() − 1."""
    return _comm().Get_rank()


def world_size() -> int:
    """The number of processes in the job."""
    return _comm().Get_size()


get_rank, get_world_size = rank, world_size  # PyTorch's names


def describe() -> str:
    """'rank:pid@host' for every rank, to match mpiexec's report of a failed pid to its rank."""
    return " ".join(f"{r}:{pid}@{host}" for r, (host, pid) in enumerate(_group.get("peers", ())))


def _run(name: str, fn, *args):
    """Run one MPI call under the watchdog's eye."""
    _pending[0] = (name, time.monotonic())
    try:
        return fn(*args)
    finally:
        _pending[0] = None


def barrier() -> None:
    """Wait until every rank has reached this call."""
    comm = _comm()
    _run("barrier", comm.Barrier)


def _buffer(tensor, what: str) -> np.ndarray:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a lamina Tensor, got {type(tensor).__name__}")
    arr = tensor.array
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        raise ValueError(f"{what}: the tensor must be contiguous (call .contiguous() first)")
    return arr


def _op(op):
    MPI = _group["MPI"]
    ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
           ReduceOp.MAX: MPI.MAX}
    if op not in ops:
        raise ValueError(f"all_reduce: op must be one of ReduceOp.SUM, AVG, PRODUCT, MIN, MAX, got {op!r}")
    return ops[op]


def all_reduce_array(arr: np.ndarray, op=ReduceOp.SUM) -> np.ndarray:
    """Reduce a contiguous NumPy array over all ranks, in place (AVG divides the sum by the world size)."""
    comm = _comm()
    mpi_op = _op(op)
    if comm.Get_size() > 1:
        _run("all_reduce", comm.Allreduce, _group["MPI"].IN_PLACE, arr.reshape(-1, order="A"), mpi_op)
        if op == ReduceOp.AVG:
            arr /= np.asarray(comm.Get_size(), dtype=arr.dtype)
    return arr


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False) -> None:
    """Reduce ``tensor`` over all ranks in place: afterwards every rank holds the sum (or AVG, PRODUCT, MIN,
    MAX) of all ranks' values."""
    _no_groups(group, async_op, "all_reduce")
    all_reduce_array(_buffer(tensor, "all_reduce"), op)


def broadcast_array(arr: np.ndarray, src: int = 0) -> np.ndarray:
    """Overwrite ``arr`` on every rank with rank ``src``'s values, in place."""
    comm = _comm()
    _check_src(src, comm.Get_size(), "broadcast")
    if comm.Get_size() > 1:
        _run("broadcast", comm.Bcast, arr.reshape(-1, order="A"), src)
    return arr


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False) -> None:
    """Overwrite ``tensor`` on every rank with rank ``src``'s values, in place."""
    _no_groups(group, async_op, "broadcast")
    broadcast_array(_buffer(tensor, "broadcast"), src)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False) -> None:
    """Fill ``tensor_list`` (one tensor per rank, each of ``tensor``'s shape) with every rank's ``tensor``, as
    PyTorch's ``all_gather``."""
    _no_groups(group, async_op, "all_gather")
    p = world_size()
    if len(tensor_list) != p:
        raise ValueError(f"all_gather: tensor_list must hold one tensor per rank ({p}), got {len(tensor_list)}")
    for i, t in enumerate(tensor_list):
        if not isinstance(t, Tensor) or t.shape != tensor.shape or t.dtype != tensor.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] must be a Tensor of shape {tuple(tensor.shape)} and "
                             f"dtype {tensor.dtype}, like the input")
    for t, part in zip(tensor_list, all_gather_array(_buffer(tensor, "all_gather"))):
        t.array[...] = part


def all_gather_array(arr: np.ndarray) -> np.ndarray:
    """Every rank's ``arr`` (all of one shape), stacked along a new first axis in rank order."""
    comm = _comm()
    arr = np.ascontiguousarray(arr)
    out = np.empty((comm.Get_size(),) + arr.shape, dtype=arr.dtype)
    if comm.Get_size() > 1:
        _run("all_gather", comm.Allgather, arr, out)
    else:
        out[0] = arr
    return out


def broadcast_object_list(object_list: list, src: int = 0, group=None) -> None:
    """Replace the items of ``object_list`` on every rank with rank ``src``'s (picklable Python objects)."""
    _no_groups(group, False, "broadcast_object_list")
    comm = _comm()
    _check_src(src, comm.Get_size(), "broadcast_object_list")
    if comm.Get_size() > 1:
        object_list[:] = _run("broadcast_object_list", comm.bcast, list(object_list), src)


def all_gather_object(object_list: list, obj, group=None) -> None:
    """``object_list[r]`` = rank r's ``obj`` on every rank (picklable Python objects)."""
    _no_groups(group, False, "all_gather_object")
    comm = _comm()
    if len(object_list) != comm.Get_size():
        raise ValueError(f"all_gather_object: object_list must have one slot per rank ({comm.Get_size()}), "
                         f"got {len(object_list)}")
    object_list[:] = _run("all_gather_object", comm.allgather, obj)


def _check_src(src, p, what):
    if not isinstance(src, (int, np.integer)) or not 0 <= src < p:
        raise ValueError(f"{what}: src must be a rank in [0, {p - 1}], got {src!r}")


def _no_groups(group, async_op, what):
    if group is not None:
        raise NotImplementedError(f"{what}: process subgroups are not supported; every collective spans the "
                                  "whole job (group=None)")
    if async_op:
        raise NotImplementedError(f"{what}: async_op=True is not supported; the call completes before it returns")


# ---------------------------------------------------------------------------------------------------------------
# failure: abort the whole job, naming the rank, instead of hanging
# ---------------------------------------------------------------------------------------------------------------
def abort(message: str, code: int = 1) -> None:
    """Print ``message`` under this rank's name on stderr and end every process of the job (MPI_Abort)."""
    comm = _group.get("comm")
    who = f"rank {comm.Get_rank()} of {comm.Get_size()}" if comm is not None else "this process"
    try:
        sys.stderr.write(f"lamina.distributed: {who} failed: {message}; aborting the job\n")
        sys.stderr.flush()
        sys.stdout.flush()
        time.sleep(1.0)  # mpiexec forwards the output it has read; the abort would cut the rest
    finally:
        if comm is not None:
            comm.Abort(code)
        os._exit(code)


class abort_on_error:
    """``with abort_on_error():`` an exception inside (even one the caller would catch and turn into an exit
    status) ends the whole job through ``abort``, naming this rank: the other ranks would otherwise wait for it
    in their next collective. A job of one process just lets it through."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None or not is_initialized() or world_size() == 1:
            return False
        if issubclass(kind, SystemExit) and value.code in (None, 0):
            return False
        if os.environ.get("LAMINA_DEBUG"):  # as the lamina command: tracebacks only when asked for
            sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
        abort(f"{kind.__name__}: {value}" if str(value) else kind.__name__, 130 if kind is KeyboardInterrupt else 1)


def _install_failure_handling() -> None:
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        if issubclass(kind, SystemExit) and value.code in (None, 0):
            return previous(kind, value, tb)
        sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
        abort(f"{kind.__name__}: {value}")

    sys.excepthook = excepthook
    threading.Thread(target=_watchdog, name="lamina.distributed watchdog", daemon=True).start()


def _watchdog() -> None:
    timeout = _group["timeout"]
    while True:
        time.sleep(min(1.0, timeout / 4))
        pending = _pending[0]
        if pending is not None and time.monotonic() - pending[1] > timeout:
            abort(f"{pending[0]} waited more than {timeout:g} s for the other ranks (one of them is hung, far "
                  f"behind, or failed without ending the job; ranks as rank:pid@host: {describe()})")

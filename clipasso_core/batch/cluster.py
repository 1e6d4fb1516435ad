"""``clipasso batch --ray``: the images sketched by Ray actors on a cluster's GPUs or CPU cores.

One actor (``Sketcher``) per GPU (a cluster without GPUs: per ``--ray-cpus-per-worker`` cores)
starts one engine, so its models load once, and sketches the batches of ``--batch-size`` images it
is given with ``sketch_many``. The driver (the ``clipasso batch`` process) gives each ready actor
one batch at a time and yields the results as batches end (``ray.wait``), as ``BatchResult``s: the
command writes the files and the table as it does without Ray. A sketch travels back as its JSON
text. Workers read the images at their absolute paths on the driver: every machine must see them
there (a shared folder). Progress of the steps in the workers is not reported, only images ending.

Worker deaths are Ray's to handle: a dead actor is restarted (``MAX_RESTARTS``) and its batch in
flight run again from its start (``MAX_TASK_RETRIES``). A batch's results come back together, as
the one return value of its call, so an image ends once even when its worker died mid-batch. A
batch whose worker died on every try fails (its images are sketched again on the next run); an
actor that cannot be restarted leaves the others the work. Cancel: no more batches start, the
images in flight end with their best sketch so far.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
import warnings
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator

from ..contract.formats import Sketch
from ..errors import ClipassoError, InputError
from .run import BatchResult, auto_batch_size, sketch_many

if TYPE_CHECKING:
    from .inputs import Item

MAX_RESTARTS = 10
"""Times Ray restarts an actor whose process died (its engine and models load again)."""
MAX_TASK_RETRIES = 2
"""Times Ray runs a batch again after its worker died with it."""
GPU_WORKER_CPUS = 1
"""CPU cores a GPU worker takes by default (image loading and masking run there)."""
CPU_WORKER_CPUS = 4
"""CPU cores a CPU worker takes by default (torch's threads), at most a node's."""
WAIT_S = 0.5
"""How long the driver waits for a batch before it looks at the cancel event again."""
CONNECT_S = 10.0
"""How long the driver tries to reach a cluster's address before it gives up."""
INSTALL = "--ray needs Ray: pip install 'clipasso[ray]'"
OUT_OF_MEMORY = ("it ran out of memory: a smaller --batch-size, or fewer workers per machine "
                 "(a larger --ray-cpus-per-worker), needs less")


class Sketcher:
    """A Ray worker: one engine (``config``, torch on ``threads`` threads) and the batches it sketches."""

    def __init__(self, config, threads: int):
        import torch

        from ..pipeline import start_engine

        torch.set_num_threads(threads)
        self.stopping = threading.Event()
        self.engine, self.error = None, None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.engine = start_engine(config)
        except Exception as exc:  # told to the driver by batch_size, as the error it is
            self.error = exc

    def batch_size(self, size: int | str) -> int:
        """Images per optimisation here: ``size``, or ``auto`` sized from this device's free memory."""
        if self.error is not None:
            raise self.error
        return auto_batch_size(self.engine) if size == "auto" else size

    def stop(self) -> None:
        """Cancel: the images in flight end with their best sketch so far, no more start."""
        self.stopping.set()

    def sketch(self, batch: list[tuple[int, Item]], size: int) -> list[tuple[int, str | None, str | None, float]]:
        """Sketch ``batch`` ((index, item) pairs): (index, sketch JSON or None, error, seconds) of
        each image that ended."""
        items = [item for _, item in batch]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [(batch[r.index][0], r.sketch.to_json() if r.sketch is not None else None, r.error, r.seconds)
                    for r in sketch_many(items, batch_size=size, cancel=self.stopping, engine=self.engine)]


def add_options(parser) -> None:
    """``--ray``, ``--ray-workers`` and ``--ray-cpus-per-worker`` of ``clipasso batch``."""
    parser.add_argument("--ray", nargs="?", const="auto", metavar="auto|ADDRESS",
                        help="sketch on a Ray cluster: its ADDRESS (HEAD:6379, ray://HEAD:10001) or auto (RAY_ADDRESS, "
                             "else a cluster running here, else a new one here); the images must be at the same "
                             "paths on every machine; needs pip install 'clipasso[ray]'")
    parser.add_argument("--ray-workers", type=_whole, metavar="N",
                        help="Ray workers to start (default: one per GPU of the cluster, else as many as its cores "
                             "hold at --ray-cpus-per-worker)")
    parser.add_argument("--ray-cpus-per-worker", type=_whole, metavar="N",
                        help=f"CPU cores of each Ray worker (default: {GPU_WORKER_CPUS} beside a GPU, else "
                             f"{CPU_WORKER_CPUS} or a node's cores if fewer)")


def input_taken_as_address(args) -> None:
    """``clipasso batch --ray photos/ -o out``: argparse gives a bare ``--ray`` the INPUT after it as
    its ADDRESS. A Ray address has a port (``HEAD:6379``, ``ray://HEAD:10001``) or is ``auto`` or
    ``local``; a value that is none of these and names an existing file or folder, or is a glob
    pattern, goes back to the inputs and the address is ``auto`` (anything else is refused later as
    an address)."""
    import glob
    from pathlib import Path

    address = args.ray
    if (address and address not in ("auto", "local") and ":" not in address
            and (Path(address).exists() or glob.has_magic(address))):
        args.inputs.insert(0, address)
        args.ray = "auto"


def _whole(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return number


def import_ray():
    """The ``ray`` module; InputError saying how to install it when it is missing."""
    try:
        import ray
    except ImportError:
        raise InputError(INSTALL) from None
    return ray


def worker_options(nodes: list[dict], device: str, cpus_per_worker: int | None) -> tuple[dict, int]:
    """One worker's Ray resources (``num_cpus``, ``num_gpus``) and how many workers the live nodes
    of ``ray.nodes()`` hold. GPU workers (one GPU each) for ``--device cuda``, and for ``auto`` on
    a cluster with GPUs; else CPU workers."""
    resources = [node["Resources"] for node in nodes if node.get("Alive")]
    has_gpus = any(r.get("GPU", 0) >= 1 for r in resources)
    gpus = device.startswith("cuda") or (device == "auto" and has_gpus)
    if gpus and not has_gpus:
        raise InputError(f"--device {device}: the Ray cluster has no GPU; use --device cpu or auto")
    largest = max((int(r.get("CPU", 0)) for r in resources), default=0)
    cpus = cpus_per_worker or (GPU_WORKER_CPUS if gpus else max(1, min(CPU_WORKER_CPUS, largest)))
    fits = sum(min(int(r.get("GPU", 0)), int(r.get("CPU", 0)) // cpus) if gpus else int(r.get("CPU", 0)) // cpus
               for r in resources)
    if not fits:
        raise InputError(f"no node of the Ray cluster has {cpus} CPU cores{' and a GPU' if gpus else ''} free "
                         "for a worker (--ray-cpus-per-worker)")
    return {"num_cpus": cpus, "num_gpus": 1 if gpus else 0}, fits


def connect(ray, address: str) -> None:
    """Join the Ray cluster at ``address``; ``auto``: the one RAY_ADDRESS names, else one running on
    this machine, else a new one here (stopped again by ``ray.shutdown``). The process's signal
    handlers (Ray replaces SIGTERM's) stay. Ray prints nothing here: its messages (a worker died)
    would go to stdout, which carries the JSON events."""
    if address != "auto":
        _reachable(address)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        ray.init(address=None if address == "auto" else address, log_to_driver=False,
                 logging_level=logging.ERROR, include_dashboard=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise InputError(f"cannot join the Ray cluster {address}: {reason}") from None
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    ray._private.worker._worker_logs_enabled = False


def _reachable(address: str) -> None:
    """InputError unless ``address`` is HOST:PORT (or ray://HOST:PORT) that takes a connection
    (Ray itself would try again for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray takes auto or a cluster's address HOST:PORT (e.g. head:6379), got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_S).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def sketch_on_ray(todo: list[Item], config, batch_size: int | str, cancel: threading.Event, address: str,
                  workers: int | None = None, cpus_per_worker: int | None = None) -> Iterator[BatchResult]:
    """Sketch ``todo`` on the Ray cluster at ``address`` (``connect``); yields one ``BatchResult``
    per image as its batch ends (``index``: its place in ``todo``). ``workers``: actors to start
    (default: as many as the cluster holds, ``worker_options``). Nothing to sketch: no cluster is joined."""
    if not todo:
        return
    ray = import_ray()
    connect(ray, address)
    actors = []
    try:
        options, fits = worker_options(ray.nodes(), config.device, cpus_per_worker)
        own = replace(config, device="cuda") if options["num_gpus"] else config
        remote = ray.remote(Sketcher).options(**options, max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES,
                                              max_concurrency=2)  # stop() runs beside sketch()
        actors = [remote.remote(own, options["num_cpus"]) for _ in range(workers or fits)]
        yield from _dispatch(ray, actors, todo, batch_size, cancel)
    finally:
        for actor in actors:
            ray.kill(actor)
        ray.shutdown()


def killed_for_memory(exc: Exception) -> bool:
    """Whether Ray stopped a worker for want of memory (its memory monitor, or the system's OOM killer)."""
    from ray.exceptions import OutOfMemoryError

    text = str(exc).lower()
    return isinstance(exc, OutOfMemoryError) or "out of memory" in text or "memory monitor" in text


def _dispatch(ray, actors, todo: list[Item], batch_size, cancel: threading.Event) -> Iterator[BatchResult]:
    """Keep every ready actor busy with one batch until ``todo`` is sketched (or cancelled)."""
    from ray.exceptions import RayError, RayTaskError

    queue = deque((index, replace(item, path=os.path.abspath(item.path))) for index, item in enumerate(todo))
    joining = {actor.batch_size.remote(batch_size): actor for actor in actors}  # ready once this returns
    running: dict = {}  # call -> (actor, batch, started)
    idle, sizes, ended, stopped, death = [], {}, [], False, "none started"
    while True:
        if cancel.is_set() and not stopped:
            stopped = True
            queue.clear()
            for actor in actors:
                actor.stop.remote()
        while idle and queue:
            actor = idle.pop()
            batch = [queue.popleft() for _ in range(min(sizes[actor], len(queue)))]
            running[actor.sketch.remote(batch, sizes[actor])] = (actor, batch, time.perf_counter())
        for index, text, error, seconds in ended:  # after the next batches went out: no worker waits for the files
            yield BatchResult(todo[index], index, Sketch.from_json(text) if text is not None else None, error, seconds)
        ended = []
        waiting = list(running) + (list(joining) if queue else [])
        if not waiting:
            if queue:
                raise ClipassoError(f"every Ray worker died ({death}); the images ended so far are in the "
                                    "table: run the command again to sketch the rest")
            return
        ready, _ = ray.wait(waiting, num_returns=1, timeout=WAIT_S)
        for call in ready:
            if call in joining:
                actor = joining.pop(call)
                try:
                    sizes[actor] = ray.get(call)
                    idle.append(actor)
                except RayTaskError as exc:
                    raise exc.cause from None
                except RayError as exc:  # it cannot start (again): the others go on
                    death = exc.__class__.__name__
                continue
            actor, batch, started = running.pop(call)
            try:
                ended += ray.get(call)
                idle.append(actor)
            except RayTaskError as exc:
                raise exc.cause from None
            except RayError as exc:
                death = exc.__class__.__name__
                error = f"its Ray worker died on every try ({1 + MAX_TASK_RETRIES}) to sketch it ({death})"
                if killed_for_memory(exc):
                    error += f"; {OUT_OF_MEMORY}"
                ended += [(index, None, error, round(time.perf_counter() - started, 2)) for index, _ in batch]
                joining[actor.batch_size.remote(batch_size)] = actor  # restarted by Ray, or gone for good

"""Device values read on the host without stalling the device's queue.

Reading a CUDA tensor with ``.item()`` waits until every queued kernel has run, so the host cannot
queue the next step while the device works on this one. ``Readout`` starts an asynchronous copy
instead and hands the values over ``lag`` puts later, when the device has long finished them: the
progress of step k is reported while step k + 1 runs.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

import torch


class Readout:
    """``put(values, deliver)`` copies values [N] to the host and calls ``deliver(list of N
    floats)`` once at most ``lag`` later puts are pending (lag None: 1 on CUDA, 0 elsewhere, where
    a copy costs no wait); ``flush()`` delivers every pending put, in order."""

    CUDA_LAG = 1
    OTHER_LAG = 0

    def __init__(self, device: torch.device, lag: int | None = None):
        self.cuda = device.type == "cuda"
        self.lag = lag if lag is not None else self.CUDA_LAG if self.cuda else self.OTHER_LAG
        self.pending: deque[tuple[torch.Tensor, object, Callable[[list[float]], None]]] = deque()

    def put(self, values: torch.Tensor, deliver: Callable[[list[float]], None]) -> None:
        host = values.detach().to("cpu", non_blocking=self.cuda)  # pinned by torch for a CUDA source
        landed = None
        if self.cuda:
            landed = torch.cuda.Event()
            landed.record(torch.cuda.current_stream(values.device))  # the copy's stream, whichever GPU
        self.pending.append((host, landed, deliver))
        while len(self.pending) > self.lag:
            self._deliver_oldest()

    def flush(self) -> None:
        while self.pending:
            self._deliver_oldest()

    def _deliver_oldest(self) -> None:
        host, landed, deliver = self.pending.popleft()
        if landed is not None:
            landed.synchronize()
        deliver(host.tolist())

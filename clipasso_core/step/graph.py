"""The loss part of an optimisation step as a CUDA graph.

For sketches of jobs whose objectives draw their targets from a bank (``ClipObjective`` with
``target_bank`` > 0): the bank gather, the augmentations, the encoder's forward and backward, the
pair losses and their gradient with respect to the sketches (``loss_and_grads``) are captured once
per shape (which jobs step, with how many seeds) and replayed every step: one graph launch instead
of about a thousand kernel launches. The body has static shapes and no host-device
synchronisation; it is the same code the eager step runs (``ClipObjective.bank_inputs``,
``joint_raw_losses``, ``ClipLoss.step_loss``), so a replay computes what the eager step computes.

Outside the graph stay the bank's random draws (host ``numpy`` streams, copied in from pinned memory),
the encoding of bank entries drawn for the first time (before the replay, into the bank's fixed
memory), and the rasterizer, whose sizes depend on the data (4 host waits per render call).
"""
from __future__ import annotations

import contextlib
import os
import warnings

import torch

from ..errors import out_of_memory
from ..loss import ClipLoss
from ..optimize import ClipObjective, joint_raw_losses

ENVIRONMENT = "CLIPASSO_CUDA_GRAPHS"
"""Set to 0 to step eagerly on CUDA (the benchmark's baseline; a workaround should a capture misbehave)."""


class GraphWarning(UserWarning):
    """A capture failed; the run goes on stepping eagerly (same results, slower)."""


def loss_and_grads(loss: ClipLoss, parts: list[tuple[ClipObjective, torch.Tensor, torch.Tensor]]
                   ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """parts: per job (objective, sketches [B, 3, H, W], bank entries index [B, K]). Returns per
    job the pair losses [B, 1 + K] and the gradient [B, 3, H, W] of the summed step losses with
    respect to its sketches. One encoder call for all jobs."""
    leaves = [sketches.detach().requires_grad_(True) for _, sketches, _ in parts]
    raw = joint_raw_losses(loss, [objective.bank_inputs(leaf, index)
                                  for (objective, _, index), leaf in zip(parts, leaves)])
    losses = [values.view(len(leaf), -1) for values, leaf in zip(raw, leaves)]
    grads = torch.autograd.grad(sum(ClipLoss.step_loss(values).sum() for values in losses), leaves)
    return [values.detach() for values in losses], list(grads)


def _root_cause(exc: BaseException) -> BaseException:
    """The first error of a chain: a capture broken by an operator is reported by the capture's end."""
    while exc.__context__ is not None:
        exc = exc.__context__
    return exc


class LossGraphs:
    """``loss_and_grads`` for one ``ClipLoss``, replayed from a CUDA graph on CUDA (captured after
    ``warmup`` eager runs whenever the shape changes; the previous graph is dropped, as shapes
    only shrink within a run) and run eagerly elsewhere, when ``CLIPASSO_CUDA_GRAPHS=0``, or after
    a capture failed (``failed`` says why; a ``GraphWarning`` is issued once). Running out of memory
    while capturing is raised as it is (``sketch_many`` halves its batch), not a failed capture."""

    def __init__(self, loss: ClipLoss, device: torch.device, warmup: int = 2):
        self.loss, self.device, self.warmup = loss, device, warmup
        self.failed: str | None = None
        self.captures = 0
        self._key = None
        self._held: list[ClipObjective] = []  # kept alive: the graph reads their banks, the key has their ids
        self._graph = None
        self._inputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._outputs: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])

    @property
    def enabled(self) -> bool:
        """Whether runs replay graphs (CUDA, not switched off, no failed capture)."""
        return self.state == "on"

    @property
    def state(self) -> str:
        """"on", "off (not CUDA)", "off (CLIPASSO_CUDA_GRAPHS=0)" or "failed: <why>" (for a result's metadata)."""
        if self.device.type != "cuda":
            return "off (not CUDA)"
        if os.environ.get(ENVIRONMENT, "1") == "0":
            return f"off ({ENVIRONMENT}=0)"
        return "on" if self.failed is None else f"failed: {self.failed}"

    def takes(self, objectives: list[object]) -> bool:
        """Whether steps of jobs with these objectives can run here: ClipObjectives (exactly) of this
        loss with a target bank and no overlap penalty (whose ``finish`` needs the points)."""
        return all(type(objective) is ClipObjective and objective.loss is self.loss
                   and objective.targets.grids is not None and not objective.overlap_weight
                   for objective in objectives)

    def run(self, parts: list[tuple[ClipObjective, torch.Tensor, torch.Tensor]]
            ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``loss_and_grads(parts)``; from a replay, the gradients are valid until the next run."""
        if not self.enabled:
            return loss_and_grads(self.loss, parts)
        with torch.cuda.device(self.device):  # streams, captures and replays of this GPU (cuda:1 too)
            return self._replayed(parts)

    def _replayed(self, parts: list[tuple[ClipObjective, torch.Tensor, torch.Tensor]]
                  ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        key = tuple((id(objective), tuple(sketches.shape), tuple(index.shape)) for objective, sketches, index in parts)
        if key != self._key:
            try:
                self._capture(parts, key)
            except Exception as exc:  # any capture failure: the eager step computes the same
                self.release()
                cause = _root_cause(exc)
                if out_of_memory(exc) or out_of_memory(cause):  # a smaller batch is tried (``sketch_many``)
                    raise
                self.failed = f"{type(cause).__name__}: {cause}".splitlines()[0][:300]
                warnings.warn(f"CUDA graph capture failed, stepping eagerly ({self.failed})", GraphWarning,
                              stacklevel=3)
                return loss_and_grads(self.loss, parts)
        for (sketches, index), (_, new_sketches, new_index) in zip(self._inputs, parts):
            sketches.copy_(new_sketches.detach())
            index.copy_(new_index)
        self._graph.replay()
        losses, grads = self._outputs
        return [values.clone() for values in losses], grads

    def release(self) -> None:
        """Drop the graph, its memory pool, buffers and objectives (at the end of a run: the next
        run captures its own)."""
        self._key, self._held, self._graph, self._inputs, self._outputs = None, [], None, [], ([], [])

    def _capture(self, parts: list[tuple[ClipObjective, torch.Tensor, torch.Tensor]], key) -> None:
        """Warm up and capture on one side stream of ``self.device`` (the current device here)."""
        self.release()
        inputs = [(sketches.detach().clone(), index.clone()) for _, sketches, index in parts]
        static = [(objective, sketches, index) for (objective, _, _), (sketches, index) in zip(parts, inputs)]
        main = torch.cuda.current_stream()
        side = torch.cuda.Stream()
        side.wait_stream(main)
        # the outer context puts the main stream back even when the capture's own exit fails half-way
        with torch.cuda.stream(side):
            for _ in range(self.warmup):  # cuDNN's choices, cuBLAS's handles, the allocator, on this stream
                loss_and_grads(self.loss, static)
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph, stream=side):
                    outputs = loss_and_grads(self.loss, static)
            except BaseException:
                with contextlib.suppress(Exception):  # let the broken capture's queued work end
                    torch.cuda.synchronize()
                raise
        main.wait_stream(side)
        self._key, self._graph, self._inputs, self._outputs = key, graph, inputs, outputs
        self._held = [objective for objective, _, _ in parts]
        self.captures += 1

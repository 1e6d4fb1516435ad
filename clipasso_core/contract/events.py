"""The progress protocol: typed events the core writes, one JSON object per line, and the editors read.

Every line carries ``"protocol": PROTOCOL_VERSION`` and ``"event"``: the name of one of the classes
in ``EVENTS``. PROTOCOL.md documents each event; this table is the only definition.
"""
from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Union

from .formats import FormatError, Sketch

PROTOCOL_VERSION = 1


class ProtocolMismatch(FormatError):
    """The other side speaks another protocol version."""


@dataclass
class Info:
    """``clipasso info``: the core's version and protocol (how editors check a core)."""

    version: str
    name = "info"


@dataclass
class Start:
    """A run started: its input and settings."""

    version: str
    input: str
    strokes: int
    seeds: int
    iterations: int
    preset: str
    backbone: str
    frames: int | None = None
    """``animate``: the frames to sketch, when the input says how many it has."""
    images: int | None = None
    """``batch``: the images to sketch (this run's, after resume and shard)."""
    name = "start"


@dataclass
class WarningMessage:
    """Something the user should know (e.g. random weights in use)."""

    message: str
    name = "warning"


@dataclass
class Download:
    """A model file is being fetched (first run): ``what`` (e.g. "CLIP RN101 weights"), ``bytes``
    received so far, ``total`` size when known; ``cache``: the folder it is stored in."""

    what: str
    bytes: int
    total: int | None = None
    cache: str | None = None
    name = "download"


@dataclass
class Progress:
    """After each step: loss is this step's loss, best_loss the best evaluation so far; with
    ``animate``, ``frame`` is the input frame being sketched, with ``--levels``, ``level`` is the
    smaller level being fine-tuned after the largest (iteration and total count its steps); with
    ``batch``, ``image`` is the index of the image among the batch's inputs (several images step
    together)."""

    iteration: int
    total: int
    loss: float
    best_loss: float
    elapsed_s: float
    eta_s: float
    frame: int | None = None
    level: int | None = None
    image: int | None = None
    name = "progress"


@dataclass
class Preview:
    """The current best strokes, every ``--preview-every`` steps (``batch``: of the image ``image``)."""

    iteration: int
    sketch: Sketch
    image: int | None = None
    name = "preview"

    def to_fields(self) -> dict:
        return {"iteration": self.iteration, "sketch": self.sketch.to_dict(), "image": self.image}

    @classmethod
    def from_fields(cls, data: dict) -> "Preview":
        return cls(int(data["iteration"]), Sketch.from_dict(data["sketch"]), _image(data))


@dataclass
class LevelDone:
    """A level of abstraction is done (``--levels``): its strokes, most important first
    (``batch``: of the image ``image``)."""

    count: int
    loss: float
    sketch: Sketch
    image: int | None = None
    name = "level"

    def to_fields(self) -> dict:
        return {"count": self.count, "loss": self.loss, "sketch": self.sketch.to_dict(), "image": self.image}

    @classmethod
    def from_fields(cls, data: dict) -> "LevelDone":
        return cls(int(data["count"]), float(data["loss"]), Sketch.from_dict(data["sketch"]), _image(data))


def _image(data: dict) -> int | None:
    return None if data.get("image") is None else _typed("image", data["image"], "int")


@dataclass
class FrameDone:
    """``animate``: a frame is sketched. index: the input frame; done: frames sketched so far;
    total: frames to sketch (None when the input does not say); cut: started afresh (scene cut)."""

    index: int
    done: int
    total: int | None
    loss: float
    cut: bool
    sketch: Sketch
    name = "frame"

    def to_fields(self) -> dict:
        return {"index": self.index, "done": self.done, "total": self.total, "loss": self.loss,
                "cut": self.cut, "sketch": self.sketch.to_dict()}

    @classmethod
    def from_fields(cls, data: dict) -> "FrameDone":
        total = data.get("total")
        return cls(_typed("index", data["index"], "int"), _typed("done", data["done"], "int"),
                   None if total is None else _typed("total", total, "int"), _typed("loss", data["loss"], "float"),
                   _typed("cut", data.get("cut", False), "bool"), Sketch.from_dict(data["sketch"]))


@dataclass
class Done:
    """The run ended and wrote its files (``cancelled``: stopped early, best so far written).
    ``animate``: loss is the mean over the frames, iterations the steps of all frames, frames the
    number of frames written."""

    svg: str
    loss: float
    seed: int
    iterations: int
    cancelled: bool
    json: str | None = None
    raster: str | None = None
    frames: int | None = None
    name = "done"


@dataclass
class ImageDone:
    """``batch``: an image ended. index: its place among the batch's inputs; input: its path;
    status: ``done``, ``failed`` (``error`` says why) or ``cancelled`` (its best sketch so far was
    written); done: images ended in this run so far, of ``total``; svg/json: the files written."""

    index: int
    input: str
    status: str
    done: int
    total: int
    svg: str | None = None
    json: str | None = None
    loss: float | None = None
    seconds: float | None = None
    error: str | None = None
    name = "image"


@dataclass
class BatchDone:
    """``batch``: the run ended. done/failed/skipped (already done by an earlier run): image counts;
    table: the results table; cancelled: stopped early (the images ended so far are kept)."""

    done: int
    failed: int
    skipped: int
    table: str
    cancelled: bool
    name = "batch"


@dataclass
class Error:
    """The run failed; ``code`` is the exit code (2 bad input, 3 cancelled, 1 internal error)."""

    message: str
    code: int
    name = "error"


@dataclass
class Unknown:
    """An event this reader does not know (from a newer core of the same protocol): ignored."""

    event: str
    data: dict = field(default_factory=dict)
    name = "unknown"


EVENTS = {cls.name: cls for cls in (Info, Start, WarningMessage, Download, Progress, Preview, LevelDone,
                                        FrameDone, Done, ImageDone, BatchDone, Error)}
"""Event name -> class: the one table of the protocol's messages."""

Event = Union[Info, Start, WarningMessage, Download, Progress, Preview, LevelDone, FrameDone, Done, ImageDone,
              BatchDone, Error, Unknown]


_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _typed(name: str, value, annotation: str):
    """``value`` as the field's type (``int``, ``float``, ``str``, ``bool``, optionally ``| None``)."""
    optional = annotation.endswith("| None")
    if value is None and optional:
        return None
    kind = _TYPES[annotation.replace("| None", "").strip()]
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be text, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        if not math.isfinite(value):
            raise TypeError(f"{name} must be a finite number, got {value!r}")
        return kind(value)
    except OverflowError:
        raise TypeError(f"{name} is out of range") from None


def to_dict(event: Event) -> dict:
    """The JSON object of an event (with ``protocol`` and ``event``); None fields are left out."""
    if isinstance(event, Unknown):
        return dict(event.data)
    body = event.to_fields() if hasattr(event, "to_fields") else asdict(event)
    return {"protocol": PROTOCOL_VERSION, "event": event.name,
            **{k: v for k, v in body.items() if v is not None}}


def to_line(event: Event) -> str:
    return json.dumps(to_dict(event), allow_nan=False)


def from_dict(data: dict) -> Event:
    """The typed event of a JSON object; FormatError when it is not one of this protocol's."""
    if not isinstance(data, dict) or "event" not in data or "protocol" not in data:
        raise FormatError("not a clipasso progress event")
    if data["protocol"] != PROTOCOL_VERSION:
        raise ProtocolMismatch(f"the clipasso core speaks progress protocol {data.get('protocol')!r}; this "
                          f"side needs protocol {PROTOCOL_VERSION}: update the core or the editor add-on")
    if not isinstance(data["event"], str):
        raise FormatError(f"the event name must be text, got {_excerpt(repr(data['event']))}")
    cls = EVENTS.get(data["event"])
    if cls is None:
        return Unknown(str(data["event"]), data)
    if hasattr(cls, "from_fields"):
        try:
            return cls.from_fields(data)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise FormatError(f"malformed {cls.name} event: {exc}") from None
    try:
        values = {}
        for f in fields(cls):
            if f.name in data:
                values[f.name] = _typed(f.name, data[f.name], f.type)
            elif f.default is MISSING:
                raise TypeError(f"{f.name} is missing")
        return cls(**values)
    except TypeError as exc:
        raise FormatError(f"malformed {cls.name} event: {exc}") from None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {_excerpt(text)}")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _excerpt(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def from_line(line: str) -> Event:
    """The typed event of one line of strict JSON (no NaN or Infinity, every number finite);
    FormatError for anything else, however it is malformed."""
    try:
        data = json.loads(line, parse_float=_finite, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; RecursionError: deep nesting
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else (
            "nested too deeply" if isinstance(exc, RecursionError) else str(exc))
        raise FormatError(f"not a JSON event line ({reason}): {_excerpt(line)!r}") from None
    return from_dict(data)

"""contract.events: every event round-trips through its JSON line; other protocols are refused."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from clipasso_core.contract import events
from clipasso_core.contract.formats import FormatError, Sketch, Stroke

SKETCH = Sketch(10, 20, [Stroke([(0, 0), (1, 2), (3, 4), (5, 6)], 1.5, "#102030", 0.5)], {"seed": 1})
SAMPLES = [
    events.Info("0.1.0"),
    events.Start("0.1.0", "cat.jpg", 16, 3, 600, "default", "openai"),
    events.WarningMessage("random weights"),
    events.Download("CLIP RN101 weights", 1024, 2048, "/home/u/.cache/huggingface/hub"),
    events.Download("U2-Net", 10),
    events.Progress(3, 600, 1.5, 1.25, 0.5, 99.0),
    events.Preview(20, SKETCH),
    events.LevelDone(1, 0.5, SKETCH),
    events.Progress(3, 12, 1.5, 1.25, 0.5, 9.0, frame=7),
    events.Progress(2, 14, 1.5, 1.25, 0.5, 9.0, level=16),
    events.FrameDone(7, 2, 24, 0.75, False, SKETCH),
    events.FrameDone(9, 3, None, 0.75, True, SKETCH),
    events.Done("a.svg", 1.2, 1000, 600, False, json="a.json"),
    events.Done("a.svg", 1.2, 1000, 600, True, frames=3),
    events.Start("0.1.0", "photos/", 16, 3, 600, "default", "openai", images=12),
    events.Progress(5, 600, 1.5, 1.25, 0.5, 99.0, image=3),
    events.Preview(20, SKETCH, image=3),
    events.LevelDone(8, 0.5, SKETCH, image=2),
    events.ImageDone(3, "photos/a.png", "done", 2, 12, svg="out/a.svg", json="out/a.json", loss=1.5, seconds=9.5),
    events.ImageDone(4, "photos/b.png", "failed", 3, 12, error="not a readable image"),
    events.BatchDone(10, 1, 1, "out/clipasso-batch.jsonl", False),
    events.Error("bad input", 2),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.name)
def test_round_trip_through_a_json_line(event):
    line = events.to_line(event)
    data = json.loads(line)
    assert data["protocol"] == events.PROTOCOL_VERSION and data["event"] == event.name
    assert events.from_line(line) == event


def test_the_table_names_every_event_once():
    assert sorted(events.EVENTS) == sorted({e.name for e in SAMPLES})
    assert "raster" not in events.to_dict(SAMPLES[12]) and "frame" not in events.to_dict(SAMPLES[3])  # unset optional fields are left out
    assert "image" not in events.to_dict(SAMPLES[6]) and "svg" not in events.to_dict(SAMPLES[-3])


def test_unknown_events_are_kept_apart_and_other_protocols_refused():
    unknown = events.from_dict({"protocol": 1, "event": "newer-event", "index": 3})
    assert isinstance(unknown, events.Unknown) and unknown.event == "newer-event"
    with pytest.raises(FormatError, match="protocol 2.*update"):
        events.from_dict({"protocol": 2, "event": "start"})
    with pytest.raises(FormatError, match="malformed progress event"):
        events.from_dict({"protocol": 1, "event": "progress", "iteration": 1})
    with pytest.raises(FormatError, match="not a JSON event line"):
        events.from_line("Downloading data from ...")


def test_contract_imports_without_torch_or_numpy():
    code = ("import sys; sys.modules['torch'] = sys.modules['numpy'] = None\n"
            "import clipasso_core.contract as c, clipasso_core.contract.client\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "print(c.PROTOCOL_VERSION)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(events.PROTOCOL_VERSION)


@pytest.mark.parametrize("data, message", [
    ({"protocol": 1, "event": "progress", "iteration": 1, "total": 2, "loss": None, "best_loss": 1,
      "elapsed_s": 0, "eta_s": 0}, "loss must be a number"),
    ({"protocol": 1, "event": "done", "svg": "a.svg", "loss": 1, "seed": 0, "iterations": 1,
      "cancelled": "no"}, "cancelled must be true or false"),
    ({"protocol": 1, "event": "error", "message": 3, "code": 2}, "message must be text"),
    ({"protocol": 1, "event": "preview", "iteration": 1, "sketch": {"format": "x"}}, "malformed preview"),
    ({"event": "progress"}, "not a clipasso progress event"),
])
def test_malformed_events_are_refused_field_by_field(data, message):
    with pytest.raises(FormatError, match=message) as caught:
        events.from_dict(data)
    assert not isinstance(caught.value, events.ProtocolMismatch)


def test_numbers_are_converted_to_the_field_type_and_unknown_events_keep_their_data():
    progress = events.from_dict({"protocol": 1, "event": "progress", "iteration": 1, "total": 2, "loss": 3,
                                 "best_loss": 1, "elapsed_s": 0, "eta_s": 0})
    assert isinstance(progress.loss, float) and progress.loss == 3.0
    data = {"protocol": 1, "event": "newer-event", "index": 3}
    assert events.to_dict(events.from_dict(data)) == data


@pytest.mark.parametrize("line, message", [
    ('{"protocol": 1, "event": "warning", "message": NaN}', "NaN is not a JSON number"),
    ('{"protocol": 1, "event": "warning", "message": -Infinity}', "-Infinity is not a JSON number"),
    ('{"protocol": 1, "event": "progress", "iteration": 1e999}', "number out of range: 1e999"),
    ('{"protocol": 1, "event": "progress", "iteration": 1, "total": 2, "loss": 1' + "0" * 400 + ', "best_loss": 1, '
     '"elapsed_s": 0, "eta_s": 0}', "loss is out of range"),
    ('{"protocol": 1, "event": 5}', "the event name must be text, got 5"),
    ('{"protocol": 1, "event": ["start"]}', "the event name must be text"),
    ("[" * 100_000, "nested too deeply"),
    ("[1, 2]", "not a clipasso progress event"),
])
def test_lines_are_strict_json_and_anything_else_is_a_format_error(line, message):
    with pytest.raises(FormatError, match=message):
        events.from_line(line)


def test_encoding_refuses_numbers_that_are_not_finite():
    with pytest.raises(ValueError):
        events.to_line(events.Progress(1, 2, float("nan"), 1.0, 0.0, 0.0))

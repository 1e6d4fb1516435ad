"""contract.sequence: the animation JSON round-trips, and every frame keeps the same strokes."""
from __future__ import annotations

import json

import pytest

from clipasso_core.contract.formats import FormatError, Stroke
from clipasso_core.contract import sequence as sequence_module
from clipasso_core.contract.sequence import MAX_FRAMES, Frame, SketchSequence, read_sequence


def strokes(shift: float, ids=(0, 1)) -> list[Stroke]:
    return [Stroke([(shift + i, 0), (shift + i, 1), (shift + i, 2), (shift + i, 3)], 2.0, "#000000", 1.0, i, r)
            for r, i in enumerate(ids)]


def sequence() -> SketchSequence:
    return SketchSequence(64, 48, 12.5, [Frame(0, strokes(0)), Frame(2, strokes(2)), Frame(4, strokes(9), cut=True)],
                          {"generator": "clipasso"})


def test_round_trip_and_frame_sketches():
    seq = sequence()
    data = json.loads(seq.to_json())
    assert data["format"] == "clipasso-sequence" and data["version"] == 1 and data["fps"] == 12.5
    assert [f["index"] for f in data["frames"]] == [0, 2, 4] and "cut" not in data["frames"][0]
    assert data["frames"][2]["cut"] is True
    back = SketchSequence.from_json(seq.to_json())
    assert back == seq
    still = back.frame_sketch(1)
    assert (still.width, still.height) == (64, 48) and still.strokes[0].points[0] == (2.0, 0.0)
    assert still.metadata["frame"] == 2


def edit(change) -> str:
    data = sequence().to_dict()
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="clipasso-sketch"), "not a clipasso sequence"),
    (lambda d: d.update(version=2), "unsupported sequence JSON version"),
    (lambda d: d.update(frames=[]), "list of frames"),
    (lambda d: d.update(fps=0), "fps must be >"),
    (lambda d: d.update(width="wide"), "width must be a number"),
    (lambda d: d["frames"][1].update(index=0), "indices must increase"),
    (lambda d: d["frames"][1].update(index=-1), "whole number"),
    (lambda d: d["frames"][1]["strokes"].pop(), "every frame needs 2"),
    (lambda d: d["frames"][2]["strokes"][0].update(id=5), "stroke ids differ"),
    (lambda d: d["frames"][1]["strokes"][0].update(width=-1), "frame 2 stroke 1 width"),
    (lambda d: d["frames"][0].update(cut="yes"), "cut must be true or false"),
    (lambda d: d.update(frames=[d["frames"][0]] * (MAX_FRAMES + 1)), "the limit is"),
])
def test_malformed_sequences_are_refused_with_a_message(change, message):
    with pytest.raises(FormatError, match=message):
        SketchSequence.from_json(edit(change))


def test_non_numbers_are_refused():
    with pytest.raises(FormatError, match="not a number"):
        SketchSequence.from_json(sequence().to_json().replace('"fps": 12.5', '"fps": NaN'))


def test_read_from_a_file_within_the_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    path.write_text(sequence().to_json())
    assert read_sequence(path) == sequence()
    monkeypatch.setattr(sequence_module, "MAX_SEQUENCE_BYTES", 100)
    with pytest.raises(FormatError, match="larger than the limit of 100 bytes"):
        read_sequence(path)
    with pytest.raises(FormatError, match="could not read sequence JSON"):
        read_sequence(tmp_path / "missing.json")

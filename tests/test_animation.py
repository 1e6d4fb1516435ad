"""animation: the first frame as a sketch, later frames warm-started along the flow; stroke k stays
stroke k; cuts start afresh; cancel keeps the frames done (tiny random CLIP: fast, not a drawing)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from skimage import data

import cv2
from clipasso_core.animation import animate
from clipasso_core.config import SketchConfig
from clipasso_core.contract import events
from clipasso_core.contract.sequence import SketchSequence
from clipasso_core.errors import Cancelled, InputError
from clipasso_core.frames import FrameWarning
from frame_inputs import cat, moved, write_folder


def config(**kw) -> SketchConfig:
    return SketchConfig(**{**dict(strokes=6, preset="fast", iterations=20, mask="off", backbone="tiny-random",
                                  device="cpu"), **kw})


def points(seq: SketchSequence) -> np.ndarray:
    return np.array([[s.points for s in frame.strokes] for frame in seq.frames])  # [F, S, 4, 2]


def test_strokes_keep_their_identity_and_follow_the_motion(tmp_path):
    base = cat(200)
    folder = write_folder(tmp_path, [moved(base, dx=2.0 * k) for k in range(4)])
    seen = []
    seq = animate(folder, config(), progress=seen.append)
    assert [f.index for f in seq.frames] == [0, 1, 2, 3] and not any(f.cut for f in seq.frames)
    ids = [[s.id for s in f.strokes] for f in seq.frames]
    assert all(i == ids[0] for i in ids) and sorted(ids[0]) == list(range(6))
    assert [[s.rank for s in f.strokes] for f in seq.frames] == [list(range(6))] * 4
    step = np.diff(points(seq), axis=0)  # [3, S, 4, 2] motion between consecutive frames
    assert np.abs(step[..., 0].mean(axis=(1, 2)) - 2.0).max() < 0.75 and np.abs(step[..., 1].mean()) < 0.75
    frames = [e for e in seen if isinstance(e, events.FrameDone)]
    assert [(e.index, e.done, e.total) for e in frames] == [(0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 4, 4)]
    assert frames[2].sketch.strokes == seq.frames[2].strokes
    assert {e.frame for e in seen if isinstance(e, events.Progress)} == {0, 1, 2, 3}
    assert SketchSequence.from_json(seq.to_json()) == seq  # a valid sequence JSON
    assert (seq.width, seq.height, seq.fps) == (200, base.shape[0], 24.0)


def test_a_scene_cut_starts_afresh_in_the_same_stroke_places(tmp_path):
    base = cat(200)
    other = cv2.resize(data.coffee(), (base.shape[1], base.shape[0]))
    seq = animate(write_folder(tmp_path, [base, moved(base, dx=2), other]), config())
    assert [f.cut for f in seq.frames] == [False, False, True] and seq.metadata["cuts"] == 1
    assert [s.id for s in seq.frames[2].strokes] == [s.id for s in seq.frames[0].strokes]
    jump = np.abs(points(seq)[2] - points(seq)[1]).mean()
    assert jump > 5  # new strokes, not the old ones nudged


def test_step_and_start_pick_input_frames(tmp_path):
    folder = write_folder(tmp_path, [moved(cat(120), dx=k) for k in range(5)])
    seq = animate(folder, config(iterations=4), start=1, step=2, fps=10)
    assert [f.index for f in seq.frames] == [1, 3] and seq.fps == 10


def test_cancel_keeps_the_frames_done_and_before_any_step_raises(tmp_path):
    folder = write_folder(tmp_path, [moved(cat(120), dx=k) for k in range(4)])
    cancel = threading.Event()

    def on_event(event):
        if isinstance(event, events.FrameDone) and event.done == 2:
            cancel.set()

    seq = animate(folder, config(iterations=4), progress=on_event, cancel=cancel)
    assert len(seq.frames) == 2 and seq.metadata["cancelled"] is True
    after_the_last = threading.Event()
    seq = animate(folder, config(iterations=4), end=1, cancel=after_the_last,
                  progress=lambda event: isinstance(event, events.FrameDone) and event.done == 2
                  and after_the_last.set())
    assert len(seq.frames) == 2 and seq.metadata["cancelled"] is False  # nothing was cut
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        animate(folder, config(iterations=4), cancel=cancel)


def test_levels_and_bad_fps_are_refused(tmp_path):
    folder = write_folder(tmp_path, [cat(64)])
    with pytest.raises(InputError, match="--levels is for still sketches"):
        animate(folder, config(levels=(4, 2)))
    with pytest.raises(InputError, match="refine a still sketch"):
        animate(folder, config(add=2, init=str(tmp_path / "s.json")))
    with pytest.raises(InputError, match="--fps"):
        animate(folder, config(), fps=-1)


def test_init_strokes_keep_their_looks_in_every_frame_a_cut_included(tmp_path):
    from test_pipeline import STYLED, looks_by_id

    base = cat(200)
    other = cv2.resize(data.coffee(), (base.shape[1], base.shape[0]))
    init = tmp_path / "styled.svg"
    init.write_text(STYLED.format(w=451, h=300, a=9, b=2.5, c=4))
    folder = write_folder(tmp_path / "frames", [base, moved(base, dx=2), other])
    seq = animate(folder, config(strokes=16, init=str(init)))  # the init's 3 strokes, not 16
    assert [f.cut for f in seq.frames] == [False, False, True] and seq.metadata["strokes"] == 3
    scale = 200 / 451  # the init was drawn on a 451 px wide picture, the frames are 200 px wide
    own = {0: ("#ff6347", 9 * scale, 1.0), 1: ("#663399", 2.5 * scale, 0.6), 2: ("#123456", 4 * scale, 1.0)}
    order = [s.id for s in seq.frames[0].strokes]
    for frame in seq.frames:
        assert [s.id for s in frame.strokes] == order
        for stroke_id, (color, width, opacity) in looks_by_id(frame.strokes).items():
            assert (color, opacity) == own[stroke_id][::2] and width == pytest.approx(own[stroke_id][1], rel=2e-3)


def test_frames_with_nothing_to_sketch_are_one_warning_and_the_metadata_counts_the_frames(tmp_path):
    base = cat(120)
    blank = np.full_like(base, 255)
    folder = write_folder(tmp_path, [base, blank, moved(base, dx=1), blank])
    with pytest.warns(FrameWarning) as caught:
        seq = animate(folder, config(iterations=2))
    messages = [str(w.message) for w in caught if issubclass(w.category, FrameWarning)]
    assert messages == [f"{folder}: 2 of the 4 frames read have nothing to sketch (one plain colour or fully "
                        "transparent; the first is frame 1): their strokes follow nothing there"]
    assert len(seq.frames) == 4  # still sketched: a fade to white is part of a video
    assert (seq.metadata["frames_expected"], seq.metadata["frames_read"]) == (4, 4)

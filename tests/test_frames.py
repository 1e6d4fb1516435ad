"""frames: every kind of animation input, read one frame at a time, and the bad ones refused."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from clipasso_core import frames as frames_module
from clipasso_core.contract.sequence import MAX_FRAMES
from clipasso_core.errors import InputError
from clipasso_core.frames import FrameWarning, natural_key, open_frames
from frame_inputs import cat, moved, truncated_video, undecodable_video, write_folder, write_gif, write_video


def shots(count: int, width: int = 96) -> list[np.ndarray]:
    base = cat(width)
    return [moved(base, dx=3 * k) for k in range(count)]


def test_folder_in_natural_order_with_the_frames_size(tmp_path):
    frames = shots(3)
    for k, name in enumerate(["f2.png", "f10.png", "f1.png"]):
        Image.fromarray(frames[k]).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a frame")
    source = open_frames(tmp_path)
    assert (source.count, source.width, source.height, source.fps) == (3, 96, frames[0].shape[0], 24.0)
    read = [f.rgb for f in source.read()]
    # f1 (frames[2]) first, then f2 (frames[0]), then f10 (frames[1])
    assert [np.abs(r * 255 - frames[k]).max() < 1 for r, k in zip(read, [2, 0, 1])] == [True] * 3
    assert sorted(["a10", "a2", "a1"], key=natural_key) == ["a1", "a2", "a10"]


def test_selection_by_start_end_and_step(tmp_path):
    source = open_frames(write_folder(tmp_path, shots(7)))
    selection = source.select(start=1, end=5, step=2)
    assert selection.total == 3 and [index for index, _ in selection] == [1, 3, 5]
    assert [index for index, _ in source.select(start=4, end=None)] == [4, 5, 6]
    assert [index for index, _ in source.select(start=6, end=100)] == [6]


def test_frames_are_read_one_at_a_time(tmp_path, monkeypatch):
    source = open_frames(write_folder(tmp_path, shots(5)))
    loads = []
    real = frames_module.load_image
    monkeypatch.setattr(frames_module, "load_image", lambda path: loads.append(path) or real(path))
    iterator = iter(source.select())
    next(iterator)
    assert len(loads) == 1  # a frame is loaded when it is needed, not the whole input


def test_glob_animated_gif_video_and_still(tmp_path):
    frames = shots(4)
    write_folder(tmp_path / "shots", frames, "shot_{}.png")
    assert open_frames(str(tmp_path / "shots" / "shot_*.png")).count == 4
    gif = open_frames(write_gif(tmp_path / "a.gif", frames, duration_ms=200))  # GIF: 10 ms units
    assert (gif.count, gif.fps) == (4, 5.0) and len(list(gif.read())) == 4
    video = open_frames(write_video(tmp_path / "a.mp4", frames, fps=12))
    assert video.fps == 12.0 and (video.width, video.height) == (96, frames[0].shape[0] // 2 * 2)
    decoded = list(video.read())
    assert len(decoded) == 4 and decoded[0].rgb.shape == (video.height, 96, 3)
    assert np.abs(decoded[2].rgb * 255 - frames[2][:video.height]).mean() < 12  # lossy, but the same picture
    Image.fromarray(frames[0]).save(tmp_path / "still.png")
    still = open_frames(tmp_path / "still.png")
    assert still.count == 1 and [i for i, _ in still.select()] == [0]


def written(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: (p / "empty").mkdir() or p / "empty", "has no images"),
    (lambda p: p / "missing.mp4", "input not found"),
    (lambda p: str(p / "nothing_*.png"), "no images match"),
    (lambda p: written(p / "broken.mp4", b"not a video at all" * 20), "not a readable video"),
    (lambda p: written(p / "text.dat", b"hello"), "not a readable video or image"),
    (lambda p: written(p / "garbage.png", b"hello"), "not a readable image"),
    (lambda p: raster_pdf(p / "scan.pdf"), r"unsupported image format: .*scan.pdf is a PDF document"),
    (lambda p: raster_pdf(p / "scan.dat"), r"not a readable image: .*scan.dat: an unsupported image format"),
    (lambda p: undecodable_video(p / "zeros.mp4", shots(4)), r"no frame of .*zeros.mp4 could be decoded"),
    (lambda p: write_folder(p / "tiny", [cat(24)] * 2), r"every image is too small to sketch: 24x16 px"),
    (lambda p: write_gif(p / "tiny.gif", [cat(40), moved(cat(40), dx=3)]),
     r"every frame is too small to sketch: 40x27 px"),
])
def test_unusable_inputs_are_one_clear_message(tmp_path, make, message):
    with pytest.raises(InputError, match=message) as failure:
        open_frames(make(tmp_path))
    assert "Errno" not in str(failure.value) and "\n" not in str(failure.value)


def raster_pdf(path):
    """A PDF holding one JPEG (as Pillow writes it): FFmpeg reads the JPEG in it as a picture."""
    Image.fromarray(cat(96)).save(path, format="PDF")
    return path


def test_images_of_different_sizes_are_refused_naming_one(tmp_path):
    write_folder(tmp_path, shots(2))
    Image.fromarray(cat(80)).save(tmp_path / "frame9.png")
    with pytest.raises(InputError, match=r"differ in size: frame9.png is 80x\d+ px, frame0.png is 96x"):
        open_frames(tmp_path)


def test_ranges_past_the_end_or_over_the_limit_are_refused(tmp_path):
    source = open_frames(write_folder(tmp_path, shots(3)))
    with pytest.raises(InputError, match=r"--start 3 is past the end .* 3 frames \(0 to 2\)"):
        source.select(start=3)
    with pytest.raises(InputError, match="no frames to sketch"):
        source.select(start=2, end=1)
    source.count = MAX_FRAMES + 5
    with pytest.raises(InputError, match=f"the limit is {MAX_FRAMES}"):
        source.select()
    assert source.select(step=2).total == (MAX_FRAMES + 4) // 2 + 1


def test_a_video_without_a_frame_count_reports_a_start_past_its_end(tmp_path):
    source = open_frames(write_video(tmp_path / "a.mp4", shots(2)))
    source.count = None  # as for streams that do not say how many frames they have
    with pytest.raises(InputError, match="past the end"):
        list(source.select(start=5))


def read_all(selection):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        indices = [index for index, _ in selection]
    return indices, [str(w.message) for w in caught if issubclass(w.category, FrameWarning)]


def test_a_video_that_ends_before_its_frame_count_warns_and_says_how_many_were_read(tmp_path):
    source = open_frames(truncated_video(tmp_path / "cut.mp4", shots(24)))
    assert source.count == 24  # what the container says
    selection = source.select()
    indices, warned = read_all(selection)
    assert 1 <= len(indices) < 24 and indices == list(range(len(indices)))
    assert (selection.total, selection.read) == (24, len(indices))
    assert len(warned) == 1 and "cut.mp4 ends early" in warned[0] and "says it has 24" in warned[0]
    assert f"{len(indices)} of the 24 frames selected could be read" in warned[0]
    with pytest.raises(InputError, match=rf"--start 20 is past the end of .*cut.mp4: it has {len(indices)} "
                                         r"frames? \(0.*\) that could be read; the file says it has 24"):
        list(source.select(start=20))
    whole = open_frames(write_video(tmp_path / "whole.mp4", shots(5)))
    assert read_all(whole.select()) == ([0, 1, 2, 3, 4], [])  # no warning when nothing is missing


def test_a_video_without_a_frame_count_is_counted_and_held_to_the_limit(tmp_path, monkeypatch):
    ts = write_video(tmp_path / "a.ts", shots(8), container_format="mpegts")
    monkeypatch.setattr(frames_module, "MAX_FRAMES", 5)
    with pytest.raises(InputError, match=r"more than 5 frames to sketch from .*a.ts; the limit is 5: choose "
                                         r"fewer with --start, --end or --step"):
        open_frames(ts).select()
    source = open_frames(ts)
    assert source.count is None  # MPEG-TS does not say
    selection = source.select(step=2)  # 0, 2, 4, 6: within the limit, and now counted
    assert (source.count, selection.total) == (8, 4) and read_all(selection) == ([0, 2, 4, 6], [])
    assert open_frames(ts).select(start=2, end=5).total == 4
    with pytest.raises(InputError, match=r"--start 9 is past the end .* 8 frames \(0 to 7\)"):
        open_frames(ts).select(start=9)
    # a source that cannot count its frames is still held to the limit while it is read
    source = open_frames(ts)
    source.counter = None
    selection = source.select()
    indices, warned = read_all(selection)
    assert indices == [0, 1, 2, 3, 4] and warned == [f"{ts}: stopped after 5 frames (the limit); choose fewer "
                                                     "with --start, --end or --step"]

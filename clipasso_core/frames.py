"""The frames of an animation input, read one at a time.

An input is a video file (decoded with PyAV), an animated GIF/WebP/PNG, a folder of images (natural
sort: ``f2.png`` before ``f10.png``), a glob pattern (``shots/*.png``), or one still image (a
one-frame animation). Frames come as ``LoadedImage`` (the size of the input's frames, downscaled in
memory above ``image_io.MAX_SIDE``) and never all at once, so memory does not grow with the number
of frames. Every frame has the first frame's size: folders and globs with images of different sizes
are refused, and so are frames smaller than ``image_io.MIN_SIDE`` on a side. At most ``MAX_FRAMES``
frames are sketched: a selection of more is refused before anything is decoded, counting a video's
packets when its container does not say how many frames it has (MPEG-TS).

A video must decode its first frame when it is opened (else: no frame could be decoded). One that
ends before the frame count its container announces (a truncated or damaged file), or whose
decoding fails part way, gives the frames read and one ``FrameWarning`` saying so; the
``Selection`` knows how many frames were expected (``total``) and read (``read``).
"""
from __future__ import annotations

import glob
import os
import re
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

from PIL import Image, UnidentifiedImageError

from .contract.sequence import MAX_FRAMES
from .errors import InputError
from .image_io import (MAX_PIXELS, NOT_IMAGES, VIDEO_SUFFIXES, LoadedImage, check_size, from_pil, load_image,
                       unsupported)

DEFAULT_FPS = 24.0
"""Frames per second of image folders, globs and stills (videos and animations have their own)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


class FrameWarning(UserWarning):
    """Something about the input the user should know (e.g. a video that ends in a broken frame)."""


@dataclass
class FrameSource:
    """An input's frames: ``width`` x ``height`` px, ``fps``, ``count`` frames (None when the input
    does not say). ``read()`` yields every frame from the first, as ``LoadedImage``. ``counter(n)``
    (videos whose container has no frame count): how many frames there are, counting at most n.
    ``stopped``: why reading stopped before the end (a decoding error), set by ``read()``."""

    name: str
    width: int
    height: int
    fps: float
    count: int | None
    read: Callable[[], Iterator[LoadedImage]]
    counter: Callable[[int], int] | None = None
    stopped: str | None = None

    def select(self, start: int = 0, end: int | None = None, step: int = 1) -> "Selection":
        """Frames start, start + step, ... up to end (inclusive; None = the last). InputError when
        the range is empty or holds more than MAX_FRAMES frames."""
        if start < 0 or step < 1 or (end is not None and end < start):
            raise InputError(f"no frames to sketch: --start {start}, --end {end}, --step {step} (start and "
                             "end are 0-based input frames, end >= start, step >= 1)")
        if self.count is None and self.counter is not None:
            needed = end + 1 if end is not None else start + MAX_FRAMES * step + 1
            counted = self.counter(needed)
            if counted < needed:
                self.count = counted  # all of them
            elif end is None:
                raise InputError(f"more than {MAX_FRAMES} frames to sketch from {self.name}; the limit is "
                                 f"{MAX_FRAMES}: choose fewer with --start, --end or --step")
        last = self.count - 1 if self.count is not None else None
        if last is not None and start > last:
            raise InputError(f"--start {start} is past the end of {self.name}: it has {self.count} frame"
                             f"{'s' if self.count != 1 else ''} (0 to {last})")
        if last is not None:
            end = last if end is None else min(end, last)
        total = None if end is None else (end - start) // step + 1
        if total is not None and total > MAX_FRAMES:
            raise InputError(f"{total} frames to sketch from {self.name}; the limit is {MAX_FRAMES}: "
                             "choose fewer with --start, --end or --step")
        return Selection(self, start, end, step, total)


@dataclass
class Selection:
    """The frames of a source to sketch; iterating gives (input index, frame)."""

    source: FrameSource
    start: int
    end: int | None
    step: int
    total: int | None
    """Frames selected, when the source's count is known."""
    read: int = 0
    """Frames of the selection read so far (after the iteration: all that could be read)."""

    def __iter__(self) -> Iterator[tuple[int, LoadedImage]]:
        source, self.read, last = self.source, 0, None
        for index, frame in enumerate(source.read()):
            if self.end is not None and index > self.end:
                break
            last = index
            if index < self.start or (index - self.start) % self.step:
                continue
            if self.read == MAX_FRAMES:  # the count was wrong: the limit still holds
                warnings.warn(f"{source.name}: stopped after {MAX_FRAMES} frames (the limit); choose "
                              "fewer with --start, --end or --step", FrameWarning, stacklevel=2)
                break
            self.read += 1
            yield index, frame
        else:  # the input ended
            if self.read == 0:
                said = f"; the file says it has {source.count}" if source.count else ""
                has = ("no frame" if last is None else "1 frame (0)" if last == 0
                       else f"{last + 1} frames (0 to {last})")
                raise InputError(f"--start {self.start} is past the end of {source.name}: it has {has} that "
                                 f"could be read{said}" + (f" (decoding stopped: {source.stopped})"
                                                           if source.stopped else ""))
            if self.total is not None and self.read < self.total:
                why = f"decoding stopped: {source.stopped}" if source.stopped else "a truncated or damaged file?"
                warnings.warn(f"{source.name} ends early: its frames stop after frame {last}, though the file "
                              f"says it has {source.count} ({why}); {self.read} of the {self.total} frames "
                              "selected could be read and are sketched", FrameWarning, stacklevel=2)
            elif source.stopped:
                warnings.warn(f"{source.name}: decoding stopped after frame {last} ({source.stopped}); the "
                              "frames before it are sketched", FrameWarning, stacklevel=2)


def natural_key(path: str) -> list:
    """Sort key that orders numbers by value: frame2 before frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def open_frames(path: str | os.PathLike) -> FrameSource:
    """The frames of an input path (video, animated image, folder, glob pattern or still image).
    InputError with one clear message for anything unusable."""
    name = os.fspath(path)
    if os.path.isdir(name):
        files = [os.path.join(name, f) for f in os.listdir(name) if f.lower().endswith(IMAGE_SUFFIXES)]
        if not files:
            raise InputError(f"the folder {name} has no images ({', '.join(IMAGE_SUFFIXES)})")
        return _image_files(name, files)
    if not os.path.exists(name):
        if glob.has_magic(name):
            files = [f for f in glob.glob(name) if f.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(f)]
            if not files:
                raise InputError(f"no images match {name}")
            return _image_files(name, files)
        raise InputError(f"input not found: {name}")
    source = _open_file(name)
    check_size(source.width, source.height, f"{name}: every frame" if source.count != 1 else name)
    return source


def _open_file(name: str) -> FrameSource:
    if name.lower().endswith(VIDEO_SUFFIXES):
        return _video(name)
    try:
        with Image.open(name) as img:
            frames = getattr(img, "n_frames", 1)
            duration = img.info.get("duration") or 0
    except UnidentifiedImageError:
        if name.lower().endswith(IMAGE_SUFFIXES + tuple(NOT_IMAGES)):
            raise unsupported(name) from None
        return _video(name, guessed=True)  # not an image: maybe a video with another suffix
    except (OSError, ValueError) as exc:
        raise InputError(f"could not read {name}: {exc}") from None
    if frames > 1:
        return _animated_image(name, frames, 1000.0 / duration if duration > 0 else DEFAULT_FPS)
    still = load_image(name)
    return FrameSource(name, still.width, still.height, DEFAULT_FPS, 1, lambda: iter([still]))


def _image_size(path: str) -> tuple[int, int]:
    """(width, height) of an image file as load_image sees it (EXIF rotation applied), header only."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                width, height = height, width
    except (OSError, ValueError, UnidentifiedImageError) as exc:
        raise InputError(f"not a readable image: {path} ({exc})") from None
    return width, height


def _image_files(name: str, files: list[str]) -> FrameSource:
    """A folder's or glob's images in natural order; refused unless they all have one size."""
    files.sort(key=natural_key)
    width, height = _image_size(files[0])
    for path in files[1:]:
        size = _image_size(path)
        if size != (width, height):
            raise InputError(f"the images of {name} differ in size: {os.path.basename(path)} is {size[0]}x"
                             f"{size[1]} px, {os.path.basename(files[0])} is {width}x{height} px. Every frame "
                             "of an animation needs the same size: resize them first")
    check_size(width, height, f"{name}: every image")
    return FrameSource(name, width, height, DEFAULT_FPS, len(files), lambda: (load_image(f) for f in files))


def _animated_image(name: str, count: int, fps: float) -> FrameSource:
    def read() -> Iterator[LoadedImage]:
        with Image.open(name) as img:
            for position in range(count):
                img.seek(position)
                yield from_pil(img.convert("RGBA"))

    with Image.open(name) as img:
        width, height = img.size
    if width * height > MAX_PIXELS:
        raise InputError(f"{name}: frames of {width}x{height} px are over the limit of {MAX_PIXELS / 1e6:.0f} MP")
    return FrameSource(name, width, height, fps, count, read)


RAW_IMAGE_FORMATS = ("image2", "mjpeg", "mpjpeg", "gif", "apng", "webp")
"""FFmpeg formats that are pictures, not videos: a file that only FFmpeg reads in one of them and
whose suffix is not a video's (a PDF holding a JPEG, say) is refused as an image format clipasso
does not read, as ``sketch`` refuses it."""


def _reason(exc: Exception) -> str:
    """FFmpeg's or the system's words for an error, without its number and file name."""
    return getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__


def _video(name: str, guessed: bool = False) -> FrameSource:
    """A video's first video stream, decoded with PyAV one frame at a time. Its first frame is
    decoded here: a video none of whose frames decodes is refused now. ``guessed``: the file's
    suffix is not a video's (refused when FFmpeg reads it as a picture)."""
    import av

    try:
        with av.open(name) as container:
            if guessed and (container.format.name in RAW_IMAGE_FORMATS or container.format.name.endswith("_pipe")):
                raise unsupported(name)
            if not container.streams.video:
                raise InputError(f"{name} has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate
            count = stream.frames or None
            try:
                next(container.decode(stream))
            except StopIteration:
                raise InputError(f"no frame of {name} could be decoded: the video is empty or damaged") from None
            except (av.FFmpegError, OSError, ValueError) as exc:
                raise InputError(f"no frame of {name} could be decoded ({_reason(exc)}): the video is damaged "
                                 "or its codec is not supported") from None
    except InputError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"not a readable video or image: {name} ({_reason(exc)})") from None
    if not width or not height:
        raise InputError(f"{name}: the video stream has no frame size")
    if width * height > MAX_PIXELS:
        raise InputError(f"{name}: frames of {width}x{height} px are over the limit of {MAX_PIXELS / 1e6:.0f} MP")

    def read() -> Iterator[LoadedImage]:
        source.stopped = None
        with av.open(name) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for frame in container.decode(stream):
                    yield from_pil(frame.to_image(), width, height)
            except (av.FFmpegError, OSError, ValueError) as exc:
                source.stopped = _reason(exc)  # Selection says so (or refuses a selection of nothing)

    def counter(most: int) -> int:
        """The video stream's packets (one per frame), counted up to ``most``, without decoding."""
        counted = 0
        try:
            with av.open(name) as container:
                for packet in container.demux(container.streams.video[0]):
                    if packet.size:  # not the demuxer's final empty packet
                        counted += 1
                        if counted >= most:
                            break
        except (av.FFmpegError, OSError, ValueError):
            pass
        return counted

    source = FrameSource(name, width, height, float(rate) if rate else DEFAULT_FPS, count, read,
                         None if count else counter)
    return source

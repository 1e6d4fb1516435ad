"""Animation inputs for the tests: the bundled cat moved, zoomed or repeated, as image folders,
animated GIFs and videos (written with Pillow and PyAV)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from clipasso_core.image_io import load_image
from clipasso_core.pipeline import EXAMPLE_IMAGE


def cat(width: int | None = None) -> np.ndarray:
    """The bundled cat as uint8 [H, W, 3], optionally resized to ``width`` px wide."""
    image = (load_image(EXAMPLE_IMAGE).rgb * 255 + 0.5).astype(np.uint8)
    if width:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)
    return image


def moved(image: np.ndarray, dx: float = 0.0, dy: float = 0.0, zoom: float = 1.0) -> np.ndarray:
    """``image`` zoomed about its centre by ``zoom`` and shifted by (dx, dy) px (edges repeated)."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0, zoom)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def true_motion(points: np.ndarray, size: tuple[int, int], dx: float = 0.0, dy: float = 0.0,
                zoom: float = 1.0) -> np.ndarray:
    """Where ``moved`` takes points [..., 2] (px) of an image of ``size`` (w, h)."""
    centre = np.array(size, dtype=np.float64) / 2
    return (points - centre) * zoom + centre + np.array([dx, dy])


def write_folder(folder: Path, frames: list[np.ndarray], name: str = "frame{}.png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / name.format(k))
    return folder


def write_gif(path: Path, frames: list[np.ndarray], duration_ms: int = 100) -> Path:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return path


def write_video(path: Path, frames: list[np.ndarray], fps: int = 12, container_format: str | None = None,
                options: dict | None = None) -> Path:
    """An MPEG-4 video of the frames (even sizes: the codec needs them); ``container_format``: e.g.
    "mpegts" (no frame count in the container); ``options``: the muxer's (``{"movflags": "faststart"}``
    puts an MP4's index, with its frame count, before the frames)."""
    import av

    h, w = (frames[0].shape[0] // 2) * 2, (frames[0].shape[1] // 2) * 2
    with av.open(str(path), "w", format=container_format, options=options or {}) as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def truncated_video(path: Path, frames: list[np.ndarray], keep: float = 1 / 3) -> Path:
    """An MP4 whose index (frame count) comes first, cut to ``keep`` of its bytes: the container says
    len(frames) frames, fewer can be decoded."""
    write_video(path, frames, options={"movflags": "faststart"})
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


def undecodable_video(path: Path, frames: list[np.ndarray]) -> Path:
    """An MP4 with a whole index (frame count) and zeros for its frames' data: nothing decodes."""
    write_video(path, frames, options={"movflags": "faststart"})
    data = bytearray(path.read_bytes())
    start = data.index(b"mdat") + 4
    data[start:] = bytes(len(data) - start)
    path.write_bytes(bytes(data))
    return path

"""Input images: the format and mode matrix, orientation, size limits, corrupt files, unsupported
formats, and what can be sketched (not too small, not plain)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from clipasso_core.errors import InputError
from clipasso_core.image_io import (MAX_SIDE, MIN_SIDE, check_content, check_image_path, load_image,
                                    nothing_to_sketch)


def base_rgb(w=60, h=40) -> np.ndarray:
    img = np.full((h, w, 3), 255, np.uint8)
    img[10:30, 15:45] = (200, 30, 30)
    return img


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "bmp", "tiff", "gif"])
def test_formats_load_to_rgb(tmp_path, ext):
    path = tmp_path / f"in.{ext}"
    Image.fromarray(base_rgb()).save(path)
    loaded = load_image(path)
    assert loaded.rgb.shape == (40, 60, 3) and (loaded.width, loaded.height) == (60, 40)
    assert loaded.rgb.dtype == np.float32 and 0 <= loaded.rgb.min() and loaded.rgb.max() <= 1
    assert loaded.rgb[20, 30, 0] > 0.6 and loaded.rgb[20, 30, 1] < 0.35  # the red box
    assert loaded.rgb[2, 2].min() > 0.9


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 5:15] = (0, 0, 255, 255)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert np.allclose(loaded.rgb[0, 0], 1.0) and np.allclose(loaded.rgb[10, 10], (0, 0, 1))
    assert loaded.alpha is not None and loaded.alpha[0, 0] == 0 and loaded.alpha[10, 10] == 1


def test_la_palette_and_opaque_alpha(tmp_path):
    la = Image.fromarray(np.stack([np.full((10, 10), 0, np.uint8), np.full((10, 10), 0, np.uint8)], -1), "LA")
    la.save(tmp_path / "la.png")
    assert np.allclose(load_image(tmp_path / "la.png").rgb, 1.0)  # fully transparent black -> white
    pal = Image.fromarray(base_rgb()).convert("P")
    pal.info["transparency"] = pal.getpixel((0, 0))
    pal.save(tmp_path / "p.png", transparency=pal.getpixel((0, 0)))
    loaded = load_image(tmp_path / "p.png")
    assert loaded.alpha is not None and np.allclose(loaded.rgb[0, 0], 1.0)
    Image.fromarray(np.dstack([base_rgb(), np.full((40, 60), 255, np.uint8)])).save(tmp_path / "o.png")
    assert load_image(tmp_path / "o.png").alpha is None  # opaque alpha is no alpha


def test_sixteen_bit_grayscale_and_cmyk(tmp_path):
    gray16 = (np.linspace(0, 65535, 50 * 40).reshape(40, 50)).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    loaded = load_image(tmp_path / "g16.png")
    assert loaded.rgb[0, 0, 0] < 0.01 and loaded.rgb[-1, -1, 0] > 0.99
    Image.fromarray(base_rgb()[..., 0]).save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").rgb.shape == (40, 60, 3)
    Image.fromarray(base_rgb()).convert("CMYK").save(tmp_path / "c.jpg")
    cmyk = load_image(tmp_path / "c.jpg")
    assert cmyk.rgb[20, 30, 0] > 0.6 and cmyk.rgb[20, 30, 2] < 0.35


def test_exif_orientation_is_honoured(tmp_path):
    img = Image.fromarray(base_rgb(60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    loaded = load_image(tmp_path / "r.jpg")
    assert (loaded.width, loaded.height) == (40, 60)
    assert loaded.rgb.shape == (60, 40, 3)


def test_large_image_is_downscaled_and_bomb_refused(tmp_path):
    Image.new("L", (12000, 9000), 255).save(tmp_path / "big.png")
    big = load_image(tmp_path / "big.png")
    assert (big.width, big.height) == (12000, 9000)
    assert max(big.rgb.shape[:2]) == MAX_SIDE and big.width == 12000
    Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")
    with pytest.raises(InputError, match="too large"):
        load_image(tmp_path / "bomb.png")


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_corrupt_files_give_clear_error(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError):
        load_image(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="folder"):
        load_image(tmp_path)


def test_a_pdf_or_any_unreadable_file_is_one_clean_line(tmp_path):
    Image.fromarray(base_rgb()).save(tmp_path / "scan.pdf", format="PDF")
    (tmp_path / "garbage.png").write_bytes(b"not an image")
    (tmp_path / "clip.mp4").write_bytes(b"not even a video")
    for name, message in (("scan.pdf", r"^unsupported image format: .*scan.pdf is a PDF document; export it"),
                          ("garbage.png", r"^not a readable image: .*garbage.png: an unsupported image format or "
                                          r"a damaged file \(clipasso reads PNG, JPEG"),
                          ("clip.mp4", r"clip.mp4 is a video, not an image: sketch its frames with: clipasso "
                                       r"animate")):
        for check in (load_image, check_image_path):
            with pytest.raises(InputError, match=message) as failure:
                check(tmp_path / name)
            assert "Errno" not in str(failure.value) and "cannot identify" not in str(failure.value)


def test_check_image_path_refuses_folders_missing_files_and_tiny_images_from_the_header(tmp_path):
    with pytest.raises(InputError, match=r"is a folder, not an image: sketch one of its images, or .* "
                                         r"clipasso animate "):
        check_image_path(tmp_path)
    with pytest.raises(InputError, match="input image not found"):
        check_image_path(tmp_path / "nope.png")
    Image.fromarray(base_rgb(8, 8)).save(tmp_path / "tiny.png")
    with pytest.raises(InputError, match=rf"tiny.png is too small to sketch: 8x8 px; .* at least {MIN_SIDE} px"):
        check_image_path(tmp_path / "tiny.png")
    Image.fromarray(base_rgb(400, MIN_SIDE)).save(tmp_path / "strip.png")
    check_image_path(tmp_path / "strip.png")  # the shorter side at the minimum: fine


def test_nothing_to_sketch_in_plain_or_transparent_images(tmp_path):
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("RGB", (64, 64), "tomato").save(tmp_path / "plain.jpg", quality=60)  # JPEG noise included
    Image.new("RGB", (64, 64), "white").save(tmp_path / "white.png")
    Image.fromarray(base_rgb()).save(tmp_path / "ok.png")
    faint = np.full((64, 64, 3), 255, np.uint8)
    faint[30:34, 30:34] = 230  # one small faint mark is something
    Image.fromarray(faint).save(tmp_path / "faint.png")
    assert nothing_to_sketch(load_image(tmp_path / "clear.png")) == "fully transparent"
    assert nothing_to_sketch(load_image(tmp_path / "plain.jpg")).startswith("one plain colour (#f")
    assert nothing_to_sketch(load_image(tmp_path / "white.png")) == "one plain colour (#ffffff)"
    assert nothing_to_sketch(load_image(tmp_path / "ok.png")) is None
    assert nothing_to_sketch(load_image(tmp_path / "faint.png")) is None
    with pytest.raises(InputError, match="nothing to sketch in white.png: the image is one plain colour"):
        check_content(load_image(tmp_path / "white.png"), "white.png")

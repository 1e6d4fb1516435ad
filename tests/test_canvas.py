"""canvas: padding an image to the square working canvas, and mapping points between the two."""
from __future__ import annotations

import numpy as np
import pytest

from clipasso_core.canvas import CanvasTransform, pad_and_resize


def test_non_square_canvas_keeps_aspect_ratio():
    t = CanvasTransform(451, 300, 224)
    assert t.to_image(*t.to_canvas(10.0, 290.0)) == pytest.approx((10.0, 290.0))
    x0, y0, x1, y1 = t.image_box()
    assert (x0, x1) == pytest.approx((0, 224)) and (y1 - y0) == pytest.approx(224 * 300 / 451)
    img = np.zeros((300, 451, 3), np.float32)
    canvas = pad_and_resize(img, 224, fill=1.0)
    assert canvas.shape == (224, 224, 3)
    assert canvas[2, 112].min() > 0.99 and canvas[112, 112].max() < 0.01  # white pad above, image in middle


def test_square_and_tall_images_map_both_ways():
    square = CanvasTransform(224, 224, 224)
    assert square.scale == 1 and square.offset == (0, 0) and square.image_box() == (0, 0, 224, 224)
    tall = CanvasTransform(100, 400, 224)
    assert tall.to_canvas(0, 0) == pytest.approx((224 * 150 / 400, 0))
    assert tall.to_image(*tall.to_canvas(37.5, 12.0)) == pytest.approx((37.5, 12.0))
    grey = pad_and_resize(np.zeros((400, 100), np.float32), 224, fill=1.0)
    assert grey.shape == (224, 224) and grey[112, 2] > 0.99 and grey[112, 112] < 0.01


def test_feather_fades_the_picture_to_the_padding_without_an_edge():
    black = np.zeros((300, 451, 3), np.float32)
    hard = pad_and_resize(black, 224, fill=1.0)
    soft = pad_and_resize(black, 224, fill=1.0, feather=0.08)
    column_hard, column_soft = hard[:, 112, 0], soft[:, 112, 0]
    assert np.abs(np.diff(column_hard)).max() > 0.6  # a hard step where the photo meets the white pad
    assert np.abs(np.diff(column_soft)).max() < 0.2  # a ramp over 0.08 x 300 px (about 12 canvas px)
    assert soft[112, 112].max() < 0.01 and soft[2, 112].min() > 0.99  # the middle and the pad untouched
    assert np.abs(np.diff(soft[112, :, 0])).max() < 0.2  # the left and right borders fade too
    long = pad_and_resize(np.zeros((100, 2000), np.float32), 224, fill=1.0, feather=0.08)
    assert long[112, 112] < 0.01  # the band follows the shorter side: a long strip stays dark in the middle

"""edit.region: the --region forms, inside tests, projection into the region, on the canvas."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from clipasso_core.canvas import CanvasTransform
from clipasso_core.edit.region import Mask, Polygon, canvas_area, canvas_keep_in, parse_region
from clipasso_core.errors import InputError


def test_a_rectangle_in_either_corner_order_is_a_polygon_with_exact_projection():
    region = parse_region("300, 250,100,50", 400, 300)
    assert isinstance(region, Polygon) and region.bounds == (100, 50, 300, 250)
    points = torch.tensor([[150.0, 60.0], [20.0, 100.0], [350.0, 400.0], [200.0, 10.0]], dtype=torch.float64)
    assert region.contains(points).tolist() == [True, False, False, False]
    projected = region.project(points)
    assert projected.tolist() == [[150.0, 60.0], [100.0, 100.0], [300.0, 250.0], [200.0, 50.0]]


def test_a_concave_polygon_projects_onto_its_nearest_edge():
    # an L shape: the notch at the top right is outside
    region = parse_region("0,0 10,0 10,4 4,4 4,10 0,10", 20, 20)
    points = torch.tensor([[2.0, 8.0], [5.0, 8.0], [9.0, 6.0], [5.0, 3.0]], dtype=torch.float64)
    assert region.contains(points).tolist() == [True, False, False, True]
    projected = region.project(points)
    assert projected[1].tolist() == [4.0, 8.0] and projected[2].tolist() == [9.0, 4.0]


def test_a_mask_image_is_stretched_over_the_image_and_projects_to_inside_pixels(tmp_path):
    mask = np.zeros((10, 20), dtype=np.uint8)
    mask[2:5, 10:15] = 255  # inside: x 10..15, y 2..5 of a 20 x 10 mask -> image px x2 (40 x 20 image)
    path = tmp_path / "region.png"
    Image.fromarray(mask).save(path)
    region = parse_region(str(path), 40, 20)
    assert isinstance(region, Mask)
    points = torch.tensor([[25.0, 6.0], [0.0, 0.0], [39.0, 19.0]], dtype=torch.float64)
    assert region.contains(points).tolist() == [True, False, False]
    projected = region.project(points)
    assert region.contains(projected).all()
    assert projected[0].tolist() == [25.0, 6.0]
    assert projected[1].tolist() == [21.0, 5.0]  # the centre of mask pixel (2, 10), in image px


@pytest.mark.parametrize("text, message", [
    ("1,2,3", "none of"), ("5,5,5,9", "no area"), ("0,0 1,1 2,2", "no area"),
    ("500,500,600,600", "outside the image"), ("nope.png", "none of"), ("a,b c,d e,f", "none of"),
])
def test_bad_regions_are_one_clear_error(text, message):
    with pytest.raises(InputError, match=message):
        parse_region(text, 400, 300)


def test_unreadable_or_empty_mask_files_are_refused(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(InputError, match="cannot be read"):
        parse_region(str(bad), 40, 20)
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(empty)
    with pytest.raises(InputError, match="no inside"):
        parse_region(str(empty), 40, 20)


def test_on_the_canvas_the_area_and_keep_in_agree_with_image_px():
    transform = CanvasTransform(448, 224, 224)  # 2 image px per canvas px, the image 112 image px below the top
    region = parse_region("100,50,200,150", 448, 224)
    area = canvas_area(region, transform)
    rows, cols = np.nonzero(area)
    assert (cols.min(), cols.max()) == (50, 99) and (rows.min(), rows.max()) == (81, 130)
    keep_in = canvas_keep_in(region, transform)
    canvas = torch.tensor([[[0.0, 0.0], [75.0, 100.0]]])
    moved = keep_in(canvas)
    assert moved.dtype == canvas.dtype
    assert moved[0, 1].tolist() == [75.0, 100.0]
    assert moved[0, 0].tolist() == [50.0, 81.0]  # the rectangle's corner (100, 50) on the canvas


def test_a_region_on_a_device_projects_as_the_parsed_one(tmp_path):
    mask = np.zeros((10, 20), dtype=np.uint8)
    mask[2:5, 10:15] = 255
    Image.fromarray(mask).save(tmp_path / "region.png")
    points = torch.tensor([[25.0, 6.0], [0.0, 0.0], [39.0, 19.0], [12.0, 3.0]], dtype=torch.float64)
    for region in (parse_region(str(tmp_path / "region.png"), 40, 20), parse_region("5,2 30,4 12,18", 40, 20)):
        placed = region.on(torch.device("cpu"))
        assert all(isinstance(value, torch.Tensor) for value in vars(placed).values() if not isinstance(value, float))
        assert torch.equal(placed.project(points), region.project(points))
        assert torch.equal(placed.contains(points), region.contains(points))

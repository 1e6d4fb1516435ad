"""flow: DIS optical flow moves points with the picture; a scene cut is told from motion."""
from __future__ import annotations

import numpy as np
import pytest
from skimage import data

import cv2
from clipasso_core.flow import flow_between, grey
from frame_inputs import cat, moved, true_motion

POINTS = np.array([[[120.0, 90], [200, 150]], [[300, 200], [250, 240]]], dtype=np.float32)  # [2, 2, 2] px


@pytest.mark.parametrize("motion", [dict(dx=2.0), dict(dx=-1.5, dy=2.5), dict(zoom=1.01), dict()],
                         ids=["right", "diagonal", "zoom", "still"])
def test_points_follow_the_picture(motion):
    before = cat().astype(np.float32) / 255
    after = moved(cat(), **motion).astype(np.float32) / 255
    flow = flow_between(grey(before), grey(after), before.shape[1])
    expected = true_motion(POINTS, (before.shape[1], before.shape[0]), **motion)
    assert np.abs(flow.move(POINTS) - expected).max() < 0.35
    assert flow.move(POINTS).shape == POINTS.shape and not flow.is_cut


def test_another_picture_is_a_cut():
    before = cat().astype(np.float32) / 255
    other = cv2.resize(data.coffee(), (before.shape[1], before.shape[0])).astype(np.float32) / 255
    assert flow_between(grey(before), grey(other), before.shape[1]).is_cut


def test_points_outside_the_frame_take_the_edge_motion():
    before = cat().astype(np.float32) / 255
    flow = flow_between(grey(before), grey(moved(cat(), dx=2.0).astype(np.float32) / 255), before.shape[1])
    outside = np.array([[-40.0, 100.0], [before.shape[1] + 30.0, 50.0]], dtype=np.float32)
    assert np.isfinite(flow.move(outside)).all()

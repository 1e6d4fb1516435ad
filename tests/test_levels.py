"""levels: the drawing order (importance by removal) and nested levels of abstraction."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from clipasso_core.config import PRESETS, Preset, SketchConfig
from clipasso_core.contract import events
from clipasso_core.levels import FINE_TUNE_FRACTION, fine_tune_steps, rank_strokes, removal_losses, select, smaller_levels
from clipasso_core.optimize import StrokeStyle
from clipasso_core.pipeline import EXAMPLE_IMAGE, sketch

SIZE = 64


class PixelObjective:
    """Mean squared difference to a target image (a stand-in for CLIP, exact and cheap)."""

    def __init__(self, target: torch.Tensor):
        self.target = target

    def clean_losses(self, sketches, points):
        return (sketches - self.target).pow(2).flatten(1).mean(1) * 1000

    def pair_losses(self, sketches, points, rngs):
        return self.clean_losses(sketches, points)[:, None]


def line(x0, y0, x1, y1):
    return [[x0, y0], [x0 + (x1 - x0) / 3, y0 + (y1 - y0) / 3], [x0 + 2 * (x1 - x0) / 3, y0 + 2 * (y1 - y0) / 3],
            [x1, y1]]


def setup(count_target=3):
    strokes = torch.tensor([line(8, 10, 56, 10), line(8, 30, 56, 30), line(8, 50, 56, 50),  # in the target
                            line(10, 5, 10, 60), line(30, 5, 30, 60)], dtype=torch.float32)  # extra
    style = StrokeStyle(torch.full((5,), 3.0), torch.tensor([0.0, 0, 0, 1]).expand(5, 4), (0, 0, SIZE, SIZE), SIZE)
    target = StrokeStyle(style.widths[:count_target], style.colors[:count_target], style.box, SIZE).render(
        strokes[None, :count_target])
    return strokes, style, PixelObjective(target)


def test_strokes_the_target_has_rank_before_the_extra_ones():
    strokes, style, objective = setup()
    ranked = rank_strokes(strokes, [10, 11, 12, 13, 14], style, objective)
    assert set(ranked.ids[:3]) == {10, 11, 12} and set(ranked.ids[3:]) == {13, 14}
    assert ranked.importance == sorted(ranked.importance, reverse=True)
    assert ranked.importance[0] > 0 > ranked.importance[-1]  # removing an extra stroke lowers the loss
    assert torch.equal(ranked.points[0], strokes[ranked.ids[0] - 10])
    full = objective.clean_losses(style.render(strokes[None]), None).item()
    assert ranked.loss == pytest.approx(full, rel=1e-6)


def test_removal_losses_from_a_stroke_on_match_the_full_ranking():
    strokes, style, objective = setup()
    full_loss, rises = removal_losses(strokes, style, objective)
    loss, later = removal_losses(strokes, style, objective, first=3)
    assert loss == pytest.approx(full_loss) and later.shape == (2,)
    assert torch.allclose(later, rises[3:])


def test_fine_tune_steps_shrink_with_the_level():
    preset = PRESETS["fast"]
    steps = [fine_tune_steps(preset, count, 16) for count in (16, 8, 4)]
    assert steps[0] == round(preset.iterations * FINE_TUNE_FRACTION)
    assert steps[0] > steps[1] > steps[2] >= 1
    assert fine_tune_steps(Preset("one", iterations=1), 1, 64) == 1


def test_selection_in_rounds_keeps_a_stroke_whose_duplicate_hid_its_importance():
    # the target: two long lines and a short one; the sketch has the first long line twice
    long_a, long_b, short = line(8, 10, 56, 10), line(8, 30, 56, 30), line(28, 50, 36, 50)
    strokes = torch.tensor([long_a, long_a, long_b, short], dtype=torch.float32)
    style = StrokeStyle(torch.full((4,), 3.0), torch.tensor([0.0, 0, 0, 1]).expand(4, 4), (0, 0, SIZE, SIZE), SIZE)
    objective = PixelObjective(style.render(strokes[None]))
    ranked = rank_strokes(strokes, [0, 1, 2, 3], style, objective)
    assert set(ranked.ids[:2]) == {2, 3}  # alone, each copy of the long line seems unimportant
    kept = select(ranked, 2, style, objective)
    assert 2 in kept.ids and len(set(kept.ids) & {0, 1}) == 1  # one copy of the long line stays
    two = StrokeStyle(style.widths[:2], style.colors[:2], style.box, SIZE)
    loss = lambda points: objective.clean_losses(two.render(points[None]), None).item()  # noqa: E731
    assert loss(kept.points) < loss(ranked.points[:2])  # better than keeping the top two of one ranking


def test_levels_nest_and_keep_ids_and_cancel_keeps_the_levels_done():
    strokes, style, objective = setup()
    top = rank_strokes(strokes, list(range(5)), style, objective)
    preset = PRESETS["fast"]
    seen = []
    levels = smaller_levels(top, [3, 1], style, objective, preset, np.random.default_rng(0),
                            on_level=lambda count, level: seen.append(count))
    assert [len(level.points) for level in levels] == [3, 1] and seen == [3, 1]
    assert set(levels[0].ids) <= set(top.ids[:3]) and set(levels[1].ids) <= set(levels[0].ids)
    assert levels[0].loss <= top.loss  # the extra strokes went: closer to the target
    cancel = threading.Event()
    done = smaller_levels(top, [3, 1], style, objective, preset, np.random.default_rng(0),
                          on_level=lambda count, level: cancel.set(), cancelled=cancel.is_set)
    assert [len(level.points) for level in done] == [3]


def test_pipeline_levels_from_one_run_with_events():
    seen = []
    config = SketchConfig(seeds=1, iterations=6, mask="off", backbone="tiny-random", preset="fast", levels=(2, 6, 4))
    result = sketch(EXAMPLE_IMAGE, config, progress=seen.append)
    assert config.strokes == 6 and [level.count for level in result.levels] == [6, 4, 2]
    level_events = [e for e in seen if isinstance(e, events.LevelDone)]
    assert [e.count for e in level_events] == [6, 4, 2]
    assert [s.id for s in level_events[1].sketch.strokes] == [s.id for s in result.levels[1].strokes]
    for larger, smaller in zip(result.levels, result.levels[1:]):
        assert {s.id for s in smaller.strokes} <= {s.id for s in larger.strokes}
    for level in result.levels:
        assert [s.rank for s in level.strokes] == list(range(level.count))
    assert result.strokes == result.levels[0].strokes and result.metadata["levels"] == [6, 4, 2]
    # the smaller levels' fine-tunes report their steps (named by level, before the level event), no previews
    after_top = seen[seen.index(level_events[0]) + 1:]
    level_steps = [e for e in after_top if isinstance(e, events.Progress)]
    assert {e.level for e in level_steps} == {4, 2} and not any(isinstance(e, events.Preview) for e in after_top)
    assert after_top.index(level_steps[-1]) < after_top.index(level_events[2])
    assert all(e.level is None for e in seen[:seen.index(level_events[0])] if isinstance(e, events.Progress))


def test_without_levels_strokes_are_ranked():
    config = SketchConfig(strokes=5, seeds=1, iterations=3, mask="off", backbone="tiny-random", preset="fast")
    result = sketch(EXAMPLE_IMAGE, config)
    assert [s.rank for s in result.strokes] == list(range(5)) and sorted(s.id for s in result.strokes) == list(range(5))
    assert result.levels == []

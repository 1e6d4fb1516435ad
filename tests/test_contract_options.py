"""contract.options is the one table of run options: the core's registries, SketchConfig and the
command line agree with it (the editors' dialogs are checked against it in their own tests)."""
from __future__ import annotations

import pytest

from clipasso_core.backbones import PROFILES
from clipasso_core.cli import build_parser
from clipasso_core.config import PRESETS, SketchConfig
from clipasso_core.contract.options import BACKBONES, EDITOR_BACKBONES, MASK_MODES, PRESETS as PRESET_NAMES
from clipasso_core.contract.formats import FormatError
from clipasso_core.contract.options import RUN_OPTIONS, run_arguments
from clipasso_core.masking import MASK_MODES as CORE_MASK_MODES


def test_core_registries_list_the_contract_names():
    assert set(PRESETS) == set(PRESET_NAMES)
    assert set(PROFILES) == set(BACKBONES) and set(EDITOR_BACKBONES) <= set(BACKBONES)
    assert tuple(CORE_MASK_MODES) == MASK_MODES
    assert RUN_OPTIONS["seeds"].default == 0 and RUN_OPTIONS["iterations"].default == 0  # the preset's


def test_config_and_command_line_defaults_come_from_the_contract():
    config = SketchConfig().validate()  # the stroke looks: None (an --init file's own) until validated
    for name, field in (("strokes", "strokes"), ("preset", "preset"), ("mask", "mask"),
                        ("stroke_width", "canvas_stroke_width"), ("color", "color"),
                        ("opacity", "opacity"), ("backbone", "backbone")):
        assert getattr(config, field) == RUN_OPTIONS[name].default, name
    sketch = build_parser()._subparsers._group_actions[0].choices["sketch"]
    actions = {a.dest: a for a in sketch._actions}
    for name, option in RUN_OPTIONS.items():
        action = actions[name]
        assert option.flag in action.option_strings
        assert action.default == option.default, name
        assert tuple(action.choices or ()) == option.choices, name


def test_run_arguments_check_every_value_against_the_table():
    args = run_arguments({"strokes": 8, "seeds": 0, "iterations": 0, "preset": "fast",
                          "stroke_width": 2.5, "color": "#FF0000", "backbone": "tiny-random"})
    assert args == ["--strokes", "8", "--preset", "fast", "--width", "2.5", "--color", "#ff0000",
                    "--backbone", "tiny-random"]  # 0 seeds/iterations: the preset's, left out
    assert build_parser().parse_args(["sketch", *args]).stroke_width == 2.5
    for values, message in (({"strokes": 0}, "strokes must be >= 1"), ({"preset": "slow"}, "preset must be one of"),
                            ({"stroke_width": float("nan")}, "finite"), ({"color": "red"}, "#rrggbb"),
                            ({"size": 3}, "not a run option")):
        with pytest.raises(FormatError, match=message):
            run_arguments(values)


def test_with_levels_the_stroke_count_is_theirs():
    """The editors always have a Strokes value; with levels the core takes the largest level, and
    refuses a --strokes that disagrees, so the flag is left out."""
    assert run_arguments({"strokes": 8, "levels": "4,2"}) == ["--levels", "4,2"]
    assert run_arguments({"strokes": 8, "levels": ""}) == ["--strokes", "8"]
    args = build_parser().parse_args(["sketch", *run_arguments({"strokes": 8, "levels": "2,4"})])
    assert (args.levels, args.strokes) == ("4,2", 16)


def test_weight_files_and_animation_options_become_flags():
    from clipasso_core.contract.options import CANVAS_PX, run_arguments
    from clipasso_core.config import CANVAS

    assert run_arguments({"clip_weights": "/w/rn101.pt", "saliency_weights": ""}) == ["--clip-weights", "/w/rn101.pt"]
    assert run_arguments({"start": 3, "end": -1, "step": 2, "fps": 0}) == ["--start", "3", "--step", "2"]
    assert CANVAS == CANVAS_PX == 224


def test_refine_options_become_sketch_flags_the_core_reads():
    from clipasso_core.cli import build_parser
    from clipasso_core.contract.options import run_arguments

    flags = run_arguments({"lock": [0, 3, 4], "add": 0, "fill_to": 12, "region": "1,2 3,4 5,1", "move": "unlocked"})
    assert flags == ["--lock", "0,3,4", "--fill-to", "12", "--region", "1,2 3,4 5,1", "--move", "unlocked"]
    args = build_parser().parse_args(["sketch", "--init", "s.json", *flags])
    assert (args.lock, args.fill_to, args.region, args.move, args.add) == ("0,3,4", 12, "1,2 3,4 5,1", "unlocked", 0)
    assert run_arguments({"lock": "", "region": "", "add": 0, "resketch": False}) == []
    assert run_arguments({"resketch": True}) == ["--resketch"]
    assert build_parser().parse_args(["sketch", "--resketch"]).resketch is True

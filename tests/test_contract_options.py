"""contract.options is the one table of run options: the core's registries, SketchConfig and the
command line agree with it (the editors' dialogs are checked against it in their own tests)."""
from __future__ import annotations

from clipasso_core.backbones import PROFILES
from clipasso_core.cli import build_parser
from clipasso_core.config import PRESETS, SketchConfig
from clipasso_core.contract.options import BACKBONES, EDITOR_BACKBONES, MASK_MODES, PRESETS as PRESET_NAMES
from clipasso_core.contract.options import RUN_OPTIONS
from clipasso_core.masking import MASK_MODES as CORE_MASK_MODES


def test_core_registries_list_the_contract_names():
    assert set(PRESETS) == set(PRESET_NAMES)
    assert set(PROFILES) == set(BACKBONES) and set(EDITOR_BACKBONES) <= set(BACKBONES)
    assert tuple(CORE_MASK_MODES) == MASK_MODES
    assert PRESETS[RUN_OPTIONS["preset"].default].seeds == RUN_OPTIONS["seeds"].default


def test_config_and_command_line_defaults_come_from_the_contract():
    config = SketchConfig()
    for name, field in (("strokes", "strokes"), ("preset", "preset"), ("mask", "mask"),
                        ("stroke_width", "canvas_stroke_width"), ("color", "color"),
                        ("opacity", "opacity"), ("backbone", "backbone")):
        assert getattr(config, field) == RUN_OPTIONS[name].default, name
    sketch = build_parser()._subparsers._group_actions[0].choices["sketch"]
    actions = {a.dest: a for a in sketch._actions}
    for name, option in RUN_OPTIONS.items():
        action = actions[name]
        assert option.flag in action.option_strings
        if name not in ("seeds", "iterations"):  # these default to the preset's on the command line
            assert action.default == option.default, name
        assert tuple(action.choices or ()) == option.choices, name

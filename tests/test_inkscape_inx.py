"""The .inx dialogs against the effects' arguments and the contract's run options, so a default,
range or choice changed on one side only fails here. inkex.tester's InxMixin checks params against
the argument parser (names, types, non-empty defaults, choices); the checks below add what it skips
(falsy defaults, equal choice sets) and compare the run options with ``options.RUN_OPTIONS``: the
same ranges and choices, and the same defaults except the dialog's own, all listed in
``clipasso_bridge.DIALOG_DEFAULTS`` (the Sketch from Image dialog starts fast; the core's command
line keeps its defaults)."""
from __future__ import annotations

import unittest

import pytest

inkex = pytest.importorskip("inkex")
from inkex.inx import InxFile  # noqa: E402
from inkex.tester.inx import InxMixin  # noqa: E402

from inkscape_bundle import ROOT  # noqa: E402  (puts the built bundle on sys.path)
from clipasso_contract.formats import MAX_STROKES  # noqa: E402
from clipasso_contract.options import BACKBONES, EDITOR_BACKBONES, RUN_OPTIONS, run_arguments  # noqa: E402
from clipasso_bridge import DIALOG_DEFAULTS, WIDTH_UNITS  # noqa: E402
from clipasso_add import AddStrokes  # noqa: E402
from clipasso_contract.options import EDIT_OPTIONS  # noqa: E402
from clipasso_fill import FillErased  # noqa: E402
from clipasso_refine import RefineSketch  # noqa: E402
from clipasso_restyle import RestyleSketch  # noqa: E402
from clipasso_sketch import SketchFromImage  # noqa: E402

EXT = ROOT / "inkscape_ext"
EFFECTS = {
    "clipasso_sketch.inx": (SketchFromImage, {"strokes", "seeds", "preset", "iterations", "mask",
                                              "backbone", "color", "levels"}),
    "clipasso_restyle.inx": (RestyleSketch, {"color", "opacity"}),
    # the artist in the loop: the run options they share with Sketch from Image
    "clipasso_refine.inx": (RefineSketch, {"seeds", "preset", "iterations", "backbone"}),
    "clipasso_add.inx": (AddStrokes, {"seeds", "preset", "iterations", "backbone"}),
    "clipasso_fill.inx": (FillErased, {"seeds", "preset", "iterations", "backbone"}),
}
"""inx file -> (effect class, the params that are contract run options)."""
INKSCAPE_TYPES = {"int": int, "float": float}
BOOLEANS = {"true": True, "false": False}


class _Inx(InxMixin, unittest.TestCase):
    def runTest(self):  # noqa: N802 (a TestCase instance only to use InxMixin's assertions)
        pass


def params(inx: InxFile) -> dict:
    return {p.name: p for p in inx.params}


def arguments(cls) -> dict:
    """Option name -> argparse action of an effect (Inkscape's own options left out)."""
    return {opt[2:]: action for action in cls().arg_parser._actions for opt in action.option_strings
            if opt.startswith("--") and opt[2:] not in ("help", "output", "id", "selected-nodes")}


def test_every_inx_is_checked():
    assert sorted(p.name for p in EXT.glob("*.inx")) == sorted(EFFECTS)


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_inx_is_valid_and_names_its_effect(name):
    checker = _Inx()
    checker.assertInxSchemaValid(str(EXT / name))
    inx = InxFile(str(EXT / name))
    assert inx.script["script"] == f"{EFFECTS[name][0].__module__}.py"
    assert inx.metadata["type"] == "effect" and inx.menu == ["Sketch", inx.name]


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_inx_params_match_the_effect_arguments(name):
    cls = EFFECTS[name][0]
    inx = InxFile(str(EXT / name))
    _Inx().assertParams(inx, cls)  # same names both ways, same types, non-empty defaults, choices
    args = arguments(cls)
    for pname, param in params(inx).items():
        action, kind = args[pname], param.param_type
        if kind in ("optiongroup", "notebook"):
            assert param.options[0] == action.default, f"{name}: {pname}: the first option is the default"
            if action.choices is not None:
                assert set(param.options) == set(action.choices), f"{name}: {pname}: choices"
        elif kind == "color":
            assert inkex.Color(int(param.text)).to_rgba() == inkex.Color(action.default).to_rgba(), pname
        elif kind in INKSCAPE_TYPES:
            assert INKSCAPE_TYPES[kind](param.text) == action.default, f"{name}: {pname}: default"
        elif kind == "bool":
            assert BOOLEANS[(param.text or "").strip()] is action.default, f"{name}: {pname}: default"
        else:  # string, path: an empty param is an empty default, which InxMixin does not compare
            assert (param.text or "") == action.default, f"{name}: {pname}: default"


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_run_options_match_the_contract(name):
    cls, run_options = EFFECTS[name]
    found = params(InxFile(str(EXT / name)))
    args = arguments(cls)
    assert run_options <= set(found), f"{name} lacks run options {run_options - set(found)}"
    # the editing effects run the core synchronously too, so they start with the same defaults
    dialog_defaults = DIALOG_DEFAULTS if cls in (SketchFromImage, RefineSketch, AddStrokes, FillErased) else {}
    for pname in run_options:
        option, param, action = RUN_OPTIONS[pname], found[pname], args[pname]
        where = f"{name}: {pname}"
        default = dialog_defaults.get(pname, option.default)
        if option.choices:
            assert param.param_type == "optiongroup", where
            expected = EDITOR_BACKBONES if pname == "backbone" else option.choices
            assert param.options[0] == default == action.default, f"{where}: default"
            assert set(param.options) == set(expected) == set(action.choices), f"{where}: choices"
        elif pname == "color":
            assert param.param_type == "color", where
            assert inkex.Color(int(param.text)).to_rgb() == inkex.Color(option.default).to_rgb(), where
        elif isinstance(option.default, str):  # free text the contract checks (levels)
            assert param.param_type == "string" and action.type in (None, str), f"{where}: type"
            assert (param.text or "") == option.default == action.default, f"{where}: default"
        else:
            kind = type(option.default)
            assert param.param_type == kind.__name__ and action.type is kind, f"{where}: type"
            assert kind(param.text) == default == action.default, f"{where}: default"
            # Inkscape's own range when min/max are missing is 0..10
            assert float(param.get("min")) == option.minimum, f"{where}: min"
            assert float(param.get("max")) == option.maximum, f"{where}: max"
            if kind is float:  # the spin box can show the range's ends and the default
                digits = int(param.get("precision", "1"))
                for value in (option.minimum, option.maximum, default):
                    assert round(value, digits) == value, f"{where}: precision {digits} hides {value}"


def test_editor_backbones_are_core_backbones():
    assert set(EDITOR_BACKBONES) <= set(BACKBONES) and RUN_OPTIONS["backbone"].default in EDITOR_BACKBONES


def test_levels_and_show_level_params():
    found = params(InxFile(str(EXT / "clipasso_sketch.inx")))
    assert found["show_level"].param_type == "int" and int(found["show_level"].text) == 0
    assert float(found["show_level"].get("min")) == 0 and float(found["show_level"].get("max")) == MAX_STROKES
    restyle = params(InxFile(str(EXT / "clipasso_restyle.inx")))
    assert restyle["show_level"].param_type == "int" and int(restyle["show_level"].text) == 0


def test_dialog_defaults_are_few_valid_and_differ_from_the_core():
    """The dialog's own defaults: listed in one place, each a valid value of a contract run option
    that the core's command line defaults differently."""
    assert set(DIALOG_DEFAULTS) == {"preset", "seeds"}
    for pname, value in DIALOG_DEFAULTS.items():
        assert pname in EFFECTS["clipasso_sketch.inx"][1] and value != RUN_OPTIONS[pname].default
        assert run_arguments({pname: value}) == [RUN_OPTIONS[pname].flag, str(value)]
    assert DIALOG_DEFAULTS == {"preset": "fast", "seeds": 1}


def test_each_speed_says_its_time_and_the_times_are_approximate():
    inx = InxFile(str(EXT / "clipasso_sketch.inx"))
    preset = params(inx)["preset"]
    labels = {option.get("value"): option.text for option in preset.xpath("option")}
    assert set(labels) == set(RUN_OPTIONS["preset"].choices)
    assert all("about" in text and ("min" in text or "hour" in text) for text in labels.values()), labels
    assert "1 min" in labels["fast"]
    text = (EXT / "clipasso_sketch.inx").read_text()
    assert "Times are approximate" in text and "laptop CPU" in text


def test_stroke_width_is_asked_on_the_page_with_its_unit():
    found = params(InxFile(str(EXT / "clipasso_sketch.inx")))
    width, unit = found["stroke_width"], found["width_unit"]
    assert width.param_type == "float" and float(width.text) == 0 and float(width.get("min")) == 0
    assert "on the page" in width.get("gui-text") and "0 = automatic" in width.get("gui-text")
    assert unit.param_type == "optiongroup" and tuple(unit.options) == WIDTH_UNITS and "unit" in unit.get("gui-text")


def test_core_tab_offers_the_weight_files_and_an_empty_core():
    found = params(InxFile(str(EXT / "clipasso_sketch.inx")))
    for pname, model in (("clip_weights", "RN101"), ("saliency_weights", "ViT-B/32")):
        assert found[pname].param_type == "path" and found[pname].get("mode") == "file"
        assert model in found[pname].get("gui-text") and not found[pname].text
    assert not found["python"].text and not found["core"].text  # empty: the integrate preset, else PATH


def test_add_strokes_count_is_the_contracts_add_option():
    """Add Strokes' count: at least 1 (the contract's 0 adds none, so the dialog starts at 4), at
    most the contract's; its help is the contract's."""
    found = params(InxFile(str(EXT / "clipasso_add.inx")))["add"]
    option, action = EDIT_OPTIONS["add"], arguments(AddStrokes)["add"]
    assert found.param_type == "int" and float(found.get("min")) == 1 and float(found.get("max")) == option.maximum
    assert int(found.text) == action.default >= 1 and action.help == option.help


def test_refine_locks_with_inkscapes_own_lock():
    text = (EXT / "clipasso_refine.inx").read_text()
    assert "Objects dialog" in text and "Unlock All" in text
    lock = params(InxFile(str(EXT / "clipasso_refine.inx")))["lock_selected"]
    assert lock.param_type == "bool" and lock.text.strip() == "true"

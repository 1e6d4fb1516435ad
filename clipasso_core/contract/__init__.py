"""The contract between the clipasso core and the editors (Blender, Inkscape).

Torch-, numpy- and bpy-free, so the editors carry a copy of this folder: the sketch JSON
(``formats``), the animation JSON (``sequence``), the progress protocol (``events``), the options of a run (``options``), the client
that runs the core (``client``) and the geometry the editors share (``geometry``). PROTOCOL.md
documents it. Modules import each other relatively only, so the folder works under any package name.
"""
from . import client, events, formats, geometry, options, sequence
from .events import PROTOCOL_VERSION
from .formats import FormatError, Sketch, Stroke

__all__ = ["client", "events", "formats", "geometry", "options", "sequence", "PROTOCOL_VERSION",
           "FormatError", "Sketch", "Stroke"]

"""The animated SVG of a ``SketchSequence``: one ``<path>`` per stroke whose ``d`` steps through the
frames with an SMIL ``<animate calcMode="discrete">`` (plays in browsers, looping); where SMIL is not
supported the SVG shows the first frame."""
from __future__ import annotations

from .contract.sequence import SketchSequence
from .svg import path_data, path_element, svg_header


def frame_times(sequence: SketchSequence) -> tuple[list[float], float]:
    """(start time of each frame in s, the loop's duration in s): a frame shows from its input
    index's time until the next frame's; the last holds as long as the gap before it (one frame
    time for a one-frame sequence)."""
    indices = [f.index for f in sequence.frames]
    hold = indices[-1] - indices[-2] if len(indices) > 1 else 1
    first = indices[0]
    return [(i - first) / sequence.fps for i in indices], (indices[-1] - first + hold) / sequence.fps


def to_animated_svg(sequence: SketchSequence) -> str:
    """Serialise a sequence to one animated SVG (strokes in the first frame's order)."""
    lines = svg_header(sequence.width, sequence.height, sequence.metadata)
    starts, duration = frame_times(sequence)
    key_times = ";".join(f"{t / duration:.6g}" for t in starts)
    lines.append('  <g fill="none" stroke-linecap="round" stroke-linejoin="round">')
    for k, stroke in enumerate(sequence.frames[0].strokes):
        content = ""
        if len(sequence.frames) > 1:
            values = ";".join(path_data(frame.strokes[k].points) for frame in sequence.frames)
            content = (f'<animate attributeName="d" calcMode="discrete" dur="{duration:.6g}s" '
                       f'repeatCount="indefinite" keyTimes="{key_times}" values="{values}"/>')
        lines.append(f"    {path_element(stroke, content=content)}")
    lines += ["  </g>", "</svg>", ""]
    return "\n".join(lines)

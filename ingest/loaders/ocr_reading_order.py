"""Text boxes found by OCR put back into reading order: lines top to bottom, words left to right, and a page
of two columns read one column after the other (a headline across both stays where it is)."""

from __future__ import annotations

from typing import NamedTuple

# A gutter lies in the middle of the page with at least this many lines wholly on each side; lines of text
# fill their column (a table's cells, which must not be read column by column, do not); few lines cross it.
_MIN_COLUMN_BOXES = 3
_GUTTER_RANGE = (0.3, 0.7)
_MIN_FILL = 0.6
_MAX_CROSSING = 0.25


class Box(NamedTuple):
    top: float
    bottom: float
    left: float
    right: float
    text: str

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def box(points: list[list[float]], text: str) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return Box(min(ys), max(ys), min(xs), max(xs), " ".join(text.split()))


def _lines(boxes: list[Box]) -> list[str]:
    """Boxes whose vertical middles fall within half a line height of each other are one line."""
    lines: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: (b.middle, b.left)):
        first = lines[-1][0] if lines else None
        if first is not None and abs(b.middle - first.middle) < max(b.bottom - b.top, first.bottom - first.top) / 2:
            lines[-1].append(b)
        else:
            lines.append([b])
    return [" ".join(b.text for b in sorted(line, key=lambda b: b.left) if b.text) for line in lines]


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _gutter(boxes: list[Box]) -> float | None:
    """An x between two columns of text lines, or None when the page is not laid out so."""
    left_edge, right_edge = min(b.left for b in boxes), max(b.right for b in boxes)
    width = right_edge - left_edge
    lo, hi = left_edge + _GUTTER_RANGE[0] * width, left_edge + _GUTTER_RANGE[1] * width
    for x in sorted({b.left for b in boxes if lo <= b.left <= hi}):  # a right column's lines start at x
        left = [b for b in boxes if b.right <= x]
        right = [b for b in boxes if b.left >= x]
        crossing = len(boxes) - len(left) - len(right)
        if min(len(left), len(right)) < _MIN_COLUMN_BOXES or crossing > _MAX_CROSSING * len(boxes):
            continue
        left_fill = _median([b.right - b.left for b in left]) / (max(b.right for b in left) - left_edge)
        right_fill = _median([b.right - b.left for b in right]) / (right_edge - x)
        if left_fill >= _MIN_FILL and right_fill >= _MIN_FILL:
            return x
    return None


def reading_order(boxes: list[Box]) -> str:
    """The page's text, one line per text line. Where a gutter splits the page into two columns, the boxes
    that cross it (headlines, full-width paragraphs) split it into bands, and each band is read left column
    first, then right."""
    boxes = [b for b in boxes if b.text]
    if not boxes:
        return ""
    gutter = _gutter(boxes)
    if gutter is None:
        return "\n".join(_lines(boxes)).strip()
    out: list[str] = []
    band: list[Box] = []
    for b in sorted(boxes, key=lambda b: b.top):
        if b.left < gutter < b.right:  # full width: ends the band above it
            out += _lines([x for x in band if x.right <= gutter]) + _lines([x for x in band if x.left >= gutter])
            out += _lines([b])
            band = []
        else:
            band.append(b)
    out += _lines([x for x in band if x.right <= gutter]) + _lines([x for x in band if x.left >= gutter])
    return "\n".join(out).strip()

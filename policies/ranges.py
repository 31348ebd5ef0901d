"""Sane ranges for settings: a config dataclass lists its bounds and checks them when it is built, so
`--set sac.batch_size=0` is refused with the key's name instead of training to NaN."""
from __future__ import annotations

import math
from typing import Any


class RangeError(ValueError):
    """A setting outside its range; the text starts with the field's name (the caller adds the prefix)."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")


def check_ranges(obj: Any, bounds: dict[str, tuple[float | None, float | None]], open_low: tuple[str, ...] = ()) -> None:
    """Every field named in `bounds` is a finite number (or None where None is allowed by its type)
    within [lo, hi] (lo excluded for fields in `open_low`); sequences are checked element-wise."""
    for name, (lo, hi) in bounds.items():
        value = getattr(obj, name)
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            if v is None:
                continue
            low_ok = lo is None or (v > lo if name in open_low else v >= lo)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low_ok \
                    or (hi is not None and v > hi):
                where = ("(" if name in open_low else "[") + ("-inf" if lo is None else f"{lo:g}") + ", " \
                    + ("inf)" if hi is None else f"{hi:g}]")
                raise RangeError(name, f"must be a number in {where}, got {v!r}")

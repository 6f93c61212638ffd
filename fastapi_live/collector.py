"""The garbage collector's share of a live app: what startup made leaves its passes, and a young
generation large enough that a fan-out's passing objects die young."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect once, then move every object alive now to the collector's permanent generation.

    After startup a process holds a few hundred thousand objects (modules, routes, pydantic
    models, compiled templates) that live until it exits; each full collection would scan them
    all again, a pause that lands on whichever request or publish allocates at that moment.
    Frozen, they are never scanned; what requests and sessions create later is collected as
    before. Returns how many objects were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


PYTHON_YOUNG_THRESHOLD = 700
"""CPython's own threshold for a young-generation pass (``gc.get_threshold()[0]``)."""


def widen_young_generation(threshold: int) -> bool:
    """Collect the young generation every ``threshold`` allocations instead of CPython's 700.

    A publish to thousands of sessions allocates their messages, tasks and frames faster than
    they finish: at 700, young passes run mid-fan-out, those passing objects survive two of them
    and are promoted to the old generation, and every ~15 such publishes a full pass over every
    session follows — the slowest publishes (``make bench``'s tail rows). A larger young
    generation lets them die young; objects without cycles are freed by reference counting as
    before, so memory grows only by cyclic garbage awaiting a pass. Left alone (False) when the
    process set a threshold of its own.
    """
    young, *older = gc.get_threshold()
    if young != PYTHON_YOUNG_THRESHOLD:
        return False
    gc.set_threshold(threshold, *older)
    return True

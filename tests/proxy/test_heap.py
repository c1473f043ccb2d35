"""The proxy takes its start-up objects out of the garbage collector's full walks."""

from __future__ import annotations

import gc

from shekara.proxy import cli


def test_what_start_up_built_is_frozen_and_later_objects_are_not() -> None:
    long_lived = [{"rule": i} for i in range(1000)]
    try:
        cli._settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen >= len(long_lived)
        later = [[i] for i in range(1000)]
        gc.collect()
        assert gc.get_freeze_count() == frozen, "objects made after start-up stay collectable"
        assert any(o is later[0] for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()

"""Prefect cache keys for the tasks: the flow computes each key from content (see
:mod:`rovercam.cachekey`) and passes it as the task's ``key`` parameter; the task's cache key
*is* that parameter, so Prefect reuses a result exactly when its inputs, the configuration it
depends on and the code are unchanged."""
from __future__ import annotations

from typing import Any

from rovercam.pipeline.plan import record_name


def key_parameter(context: Any, parameters: dict[str, Any]) -> str:
    """``cache_key_fn``: the task's own ``key`` parameter, prefixed by the task name."""
    return record_name(context.task.name, parameters["key"])

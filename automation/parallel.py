"""Running one function over many stacks with bounded concurrency.

Threads, not processes: each stack operation is a Pulumi CLI subprocess, so the threads mostly
wait. Stack operations in one process are safe together because oneclick's workspaces never write
Pulumi's shared current-stack file (see automation/workspace.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_bounded(
    items: Sequence[T],
    work: Callable[[T], R],
    parallel: int,
    on_done: Callable[[R], None] | None = None,
) -> list[R]:
    """`work(item)` for every item, at most `parallel` at once; results in the order of `items`.

    `work` is expected to report its own failures in its result: an exception escaping it is raised
    here only after every other item has finished.
    """
    if parallel < 1:
        raise ValueError("parallel must be at least 1")

    def run(item: T) -> R:
        result = work(item)
        if on_done is not None:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=min(parallel, max(len(items), 1))) as pool:
        futures = [pool.submit(run, item) for item in items]
        return [future.result() for future in futures]

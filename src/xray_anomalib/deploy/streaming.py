"""Run work ahead in a thread pool, in order, with a bounded number of items in memory."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def ordered_map(
    pool: Executor, function: Callable[[Item], Result], items: Iterable[Item], window: int
) -> Iterator[Result]:
    """``function`` over ``items`` in ``pool``; results come in the order of ``items``.

    At most ``window`` items are submitted and not yet taken, however many items there are; ``items`` is read
    only as far as that needs, so it may be a lazy generator.
    """
    pending: deque[Future] = deque()
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()

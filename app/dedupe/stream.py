"""De-duplicating a stream of texts in order: each is kept unless it nearly repeats one kept before."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from app.dedupe.decisions import Key, NearDuplicateIndex


def dedupe_stream(items: Iterable[tuple[Key, str]], index: NearDuplicateIndex) -> Iterator[tuple[Key, bool]]:
    """Yield ``(key, kept)`` for each item in order; kept items join ``index`` (and so the comparison).

    Texts already in ``index`` (seed tasks, say) count as kept before the stream.
    """
    for key, text in items:
        kept = not index.is_duplicate(text)
        if kept:
            index.add(key, text)
        yield key, kept

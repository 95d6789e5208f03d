"""pyarrow's memory pool for the data-heavy steps: one that hands freed memory back to the system at once."""

from __future__ import annotations

import pyarrow as pa

_POOL: pa.MemoryPool | None = None


def use_releasing_memory_pool() -> pa.MemoryPool:
    """Make jemalloc, returning freed pages to the system at once, pyarrow's default pool where this build has it.

    The CSV is parsed into many small blocks on several threads, then each column is rebuilt in one piece: with the
    default allocator (mimalloc) the freed blocks stay resident and the split task's peak grows with them (measured:
    docs/performance.md, Where the time goes). As the default pool it also serves the Parquet writes of the outputs.
    Process-wide: call it where a data-heavy task starts. Idempotent; returns the pool in use.
    """
    global _POOL
    if _POOL is None:
        try:
            _POOL = pa.jemalloc_memory_pool()
            pa.jemalloc_set_decay_ms(0)
            pa.set_memory_pool(_POOL)
        except (NotImplementedError, AttributeError):
            _POOL = pa.default_memory_pool()
    return _POOL

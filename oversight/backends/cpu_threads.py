"""How many cores vLLM's CPU build computes on when the user says nothing.

vLLM's CPU executor reserves one core per rank for its scheduler process and binds the
worker's OpenMP threads to the others. On a 2-core machine that leaves one compute thread,
while the scheduler process used under 5% of its core (benchmarks/RESULTS.md section 0:
the worker ran at 94% of one core with the default and at 190% of two with nothing
reserved, and generated about twice the rows per minute). So on machines with at most
:data:`SMALL_MACHINE_CORES` usable cores nothing is reserved; on larger ones vLLM's default
(one core of many) stands. ``VLLM_CPU_NUM_OF_RESERVED_CPU`` or a ``VLLM_CPU_OMP_THREADS_BIND``
other than ``auto``, when set, always win: vLLM reads them itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping

__all__ = ["RESERVED_ENV", "SMALL_MACHINE_CORES", "apply_cpu_threads", "cpu_thread_env"]

log = logging.getLogger(__name__)

RESERVED_ENV = "VLLM_CPU_NUM_OF_RESERVED_CPU"
BIND_ENV = "VLLM_CPU_OMP_THREADS_BIND"
SMALL_MACHINE_CORES = 4
"""At or below this many usable cores, reserving one for the scheduler costs a quarter or
more of the compute; above it, vLLM's reservation stands."""


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_thread_env(
    environ: Mapping[str, str] | None = None, cores: int | None = None
) -> dict[str, str]:
    """The variables to add so that vLLM's CPU worker computes on every core; empty when
    the user set them or the machine is large enough for vLLM's default."""
    env = os.environ if environ is None else environ
    if RESERVED_ENV in env or env.get(BIND_ENV, "auto") != "auto":
        return {}
    n = usable_cores() if cores is None else cores
    if n > SMALL_MACHINE_CORES:
        return {}
    return {RESERVED_ENV: "0"}


def apply_cpu_threads(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set :func:`cpu_thread_env` in ``environ`` (the process's own by default, which the
    engine's processes inherit) and return what was set."""
    env = os.environ if environ is None else environ
    added = cpu_thread_env(env)
    if added:
        env.update(added)
        log.info(
            "vLLM CPU: %d cores, none reserved for the scheduler (%s=0; set it to override)",
            usable_cores(),
            RESERVED_ENV,
        )
    return added

"""One pending re-evaluation timer per delay in Snakemake's job scheduler (loaded by the Snakefile).

Snakemake 9's ``JobScheduler.schedule`` ends every scheduling pass by starting a
``threading.Timer(timespan, release)`` (``_schedule_reevalutation``, the job rate limiter's
re-evaluation; ``--max-jobs-per-timespan``, default 100/1s), and every timer's release causes
another pass. So each pass that a job event caused starts a timer chain that never stops: after
N job events N chains wake the scheduler every second, each wake a full pass over the ready
jobs. Measured on the default toy DAG (2 cores, ``python -m vlmbias.bench run``): the Snakemake
process had started ~100,000 timer threads after 30 minutes, ~85 more a second and growing, and
used ~25% of a core by then, rising with every finished job (snakemake/snakemake#2967 describes
the symptom: threads and CPU growing over a long local run).

:func:`coalesce_reevaluation_timers` keeps the intent and drops the chains: a pass still always
leaves a timer pending that wakes the scheduler within ``delay``, but a pass that finds one
already pending for the same delay starts no other. The timers are daemon threads, so a
finished run never waits for one. Applied only where Snakemake has the method this replaces
(``JobScheduler._schedule_reevalutation(self, delay)``, spelled so upstream); elsewhere nothing
changes.
"""

from __future__ import annotations

import threading


def coalesce_reevaluation_timers() -> bool:
    """Patch ``JobScheduler._schedule_reevalutation`` (once per process); True where patched now."""
    try:
        from snakemake.scheduling import job_scheduler
    except ImportError:
        return False
    cls = getattr(job_scheduler, "JobScheduler", None)
    original = getattr(cls, "_schedule_reevalutation", None)
    if original is None or getattr(original, "coalesced", False):
        return False

    def _schedule_reevalutation(self, delay) -> None:
        lock = self.__dict__.setdefault("_reevaluation_lock", threading.Lock())
        with lock:
            pending = self.__dict__.setdefault("_reevaluation_timers", {})
            if delay in pending:
                return

            def fire() -> None:
                with lock:
                    pending.pop(delay, None)
                self._open_jobs.release()

            timer = threading.Timer(delay, fire)
            timer.daemon = True
            pending[delay] = timer
            timer.start()

    _schedule_reevalutation.coalesced = True
    cls._schedule_reevalutation = _schedule_reevalutation
    return True

"""vlmbias.core.scheduler: one pending re-evaluation timer per delay in Snakemake's scheduler."""

from __future__ import annotations

import threading
import time

from snakemake.scheduling.job_scheduler import JobScheduler

from vlmbias.core.scheduler import coalesce_reevaluation_timers


class FakeScheduler:
    def __init__(self):
        self._open_jobs = threading.Semaphore(0)


def releases(sem: threading.Semaphore) -> int:
    n = 0
    while sem.acquire(blocking=False):
        n += 1
    return n


def test_the_installed_snakemake_has_the_method_and_is_patched_once():
    coalesce_reevaluation_timers()
    assert getattr(JobScheduler._schedule_reevalutation, "coalesced", False)
    assert coalesce_reevaluation_timers() is False          # already patched: nothing more


def test_passes_with_a_timer_pending_start_no_other_and_each_timer_wakes_once():
    coalesce_reevaluation_timers()
    s = FakeScheduler()
    before = threading.active_count()
    for _ in range(20):                                      # 20 passes within one timespan
        JobScheduler._schedule_reevalutation(s, 0.2)
    assert threading.active_count() - before <= 1
    timers = list(s._reevaluation_timers.values())
    assert len(timers) == 1 and timers[0].daemon             # a finished run never waits for it
    time.sleep(0.4)
    assert releases(s._open_jobs) == 1                       # upstream: 20 wake-ups, 20 new chains
    JobScheduler._schedule_reevalutation(s, 0.05)            # the woken pass leaves a timer again
    JobScheduler._schedule_reevalutation(s, 0.2)             # another delay: a timer of its own
    time.sleep(0.4)
    assert releases(s._open_jobs) == 2 and not s._reevaluation_timers

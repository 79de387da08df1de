"""The scheduler: APScheduler's BackgroundScheduler (jobs are synchronous DB
work, run on its thread pool), one interval trigger per installed job,
aligned on the epoch so every instance fires for the same slots; the runner's
lease and slot claim make each slot execute once per cluster.

Started from a Reflex lifespan task (apiany.py, when APIANY_JOBS=1) or by
`python -m apiany worker`, the recommended production layout (docs/jobs.md).
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from apiany.core.settings import get_settings
from apiany.jobs import clock
from apiany.jobs.registry import JOBS, installed, interval_of, resolve
from apiany.jobs.runner import EPOCH, JobResult, default_holder, run_job, slot_of

log = logging.getLogger("apiany.jobs")
FIRE_OFFSET_SECONDS = 1.0  # fire just after the slot starts: clocks differ a little


class JobScheduler:
    def __init__(self, names: list[str] | None = None, *, holder: str | None = None,
                 first_run_delay: float | None = None):
        self.names = names
        self.holder = holder or default_holder("scheduler")
        self.first_run_delay = (get_settings().job_start_delay_seconds
                                if first_run_delay is None else first_run_delay)
        self._scheduler: BackgroundScheduler | None = None

    def tick(self, name: str) -> JobResult:
        """What the trigger calls: run `name` for the slot `now` falls in
        (skipped when another instance has run or is running it)."""
        fn = resolve(name)
        if fn is None:
            return JobResult(name, "not installed")
        slot = slot_of(clock.now(), interval_of(name))
        return run_job(name, fn, trigger="schedule", holder=self.holder, slot=slot)

    def start(self) -> JobScheduler:
        jobs = installed()
        names = [n for n in (self.names or list(JOBS)) if n in jobs]
        sched = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        now = datetime.now(UTC)
        for name in names:
            interval = interval_of(name)
            start = EPOCH + timedelta(seconds=FIRE_OFFSET_SECONDS)
            # First run soon after start-up (its slot may not have run yet),
            # spread a little so workers do not all hit the DB at once.
            first = now + timedelta(seconds=self.first_run_delay * (1 + random.random()))
            sched.add_job(self.tick, IntervalTrigger(seconds=interval, start_date=start),
                          args=[name], id=name, name=name, next_run_time=first)
        if logging.getLogger("apscheduler").level == logging.NOTSET:
            logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run
        sched.start()
        self._scheduler = sched
        log.info("scheduler %s started: %s", self.holder, ", ".join(names))
        return self

    def shutdown(self, wait: bool = False) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None


def run_worker(stop: threading.Event | None = None) -> None:
    """`python -m apiany worker`: run the scheduler until SIGINT/SIGTERM."""
    import signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = stop or threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = JobScheduler().start()
    print(f"worker {scheduler.holder}: running internal jobs (Ctrl-C to stop)", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        scheduler.shutdown(wait=True)

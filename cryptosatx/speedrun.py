"""`manage.py simulate-day`: one day of the system in accelerated time, ending with its daily summary
(issue 5). The proof that every number of that summary comes from rows is cryptosatx.daytrace.

What runs is the real tasks, in this process, at their scheduled times on a virtual clock:
`cryptosatx.tasks.scan_task` for each scanner at every slot of its `*_INTERVAL_HOURS`, the alert sender
(`signals.tasks.send_alerts`: its passes, drain and summary catch-up) and
`performance.tasks.evaluate_outcomes` at the intervals of their django-q2 schedules, and the daily
summary (`signals.tasks.send_daily_summary_task`) at DAILY_SUMMARY_TIME in TIME_ZONE the next morning.
They fetch from a market simulator started on an ephemeral loopback port in this same process, so that
it shares the clock; its Telegram receives the alerts and the summary.

The clock: time-machine moves the process clock (time.time, datetime.now, date.today, in every thread,
the simulator's included) to each task's time. While a task runs the clock ticks at real speed (a scan
takes its real seconds, rate-limit windows and timeouts behave as they do live); the gap to the next task
is waited out `speed` times faster than real. Wall time ≈ the virtual hours × 3600 / speed + the tasks'
own time. A task that overruns the next one's time delays it, as a busy cluster would: the clock never
goes back.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Callable

import httpx
import time_machine
from django.conf import settings
from django.test.utils import override_settings
from django.utils import timezone
from django_q.models import Schedule

from marketdata.simulator.server import SimulatorServer
from scanners.models import ScanRun
from signals.models import Signal

from .management.commands.setup_schedules import SCAN_SCHEDULES

log = logging.getLogger(__name__)

BOT_TOKEN = "1000000:simulate-day"  # any token of Telegram's form is accepted by the simulator
CHAT_ID = "-1001"  # a group, as `make run` uses: the pacing of groups (20 a minute) applies
# At one instant: scans first, then the sender, outcomes, the summary (what a queue drains in that order).
RANK = {"scan": 0, "send": 1, "outcomes": 2, "summary": 3}
SETTLE = timedelta(minutes=10)  # how long the sender may take to get a waiting summary out
SCHEDULE_MINUTES = {"signals.tasks.send_alerts": 1, "performance.tasks.evaluate_outcomes": 15}


@dataclass(frozen=True, order=True)
class Task:
    at: datetime
    rank: int
    kind: str = field(compare=False)
    arg: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        return f"{self.kind} {self.arg}".strip()


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def summary_time(day: date) -> datetime:
    """DAILY_SUMMARY_TIME (HH:MM, TIME_ZONE) on the morning after `day`: when `day`'s summary is sent."""
    hour, minute = (int(x) for x in settings.DAILY_SUMMARY_TIME.split(":"))
    return local_midnight(day + timedelta(days=1)) + timedelta(hours=hour, minutes=minute)


def _every(start: datetime, end: datetime, seconds: int, aligned: bool) -> list[datetime]:
    """start ≤ t ≤ end every `seconds`; aligned to the epoch (as scan slots are) or from `start`."""
    first = int(start.timestamp())
    if aligned:
        first = -(-first // seconds) * seconds
    last = int(end.timestamp())
    return [datetime.fromtimestamp(t, tz=dt_timezone.utc) for t in range(first, last + 1, seconds)]


def schedule_minutes(func: str) -> int:
    """The interval of a django-q2 schedule as edited in admin (its migration's default otherwise)."""
    minutes = Schedule.objects.filter(func=func).values_list("minutes", flat=True).first()
    return int(minutes) if minutes and minutes > 0 else SCHEDULE_MINUTES[func]


def plan(day: date) -> list[Task]:
    """Every task of `day` 00:00 up to the summary the next morning (and the sender's passes for SETTLE
    after it), in the order they run."""
    start, end = local_midnight(day), summary_time(day)
    tasks = [Task(t, RANK["scan"], "scan", scanner)
             for scanner, key in SCAN_SCHEDULES.items()
             for t in _every(start, end, max(60, int(getattr(settings, key) * 3600)), aligned=True)]
    # The sender goes on after the summary, as live: a summary paced behind an alert of the same minute goes
    # out with its next pass. The run stops once the summary is out (run_day).
    tasks += [Task(t, RANK["send"], "send") for t in
              _every(start, end + SETTLE, 60 * schedule_minutes("signals.tasks.send_alerts"), aligned=False)]
    tasks += [Task(t, RANK["outcomes"], "outcomes") for t in
              _every(start, end, 60 * schedule_minutes("performance.tasks.evaluate_outcomes"), aligned=False)]
    tasks.append(Task(end, RANK["summary"], "summary"))
    return sorted(tasks)


class VirtualClock:
    """The process clock during a run: jumps to each task's time, ticks at real speed while it runs."""

    def __init__(self, start: datetime, speed: float):
        self.speed = speed
        self._travel = time_machine.travel(start, tick=True)
        self._traveller = None
        self.waited = 0.0  # real seconds spent waiting between tasks

    def __enter__(self) -> "VirtualClock":
        self._traveller = self._travel.start()
        return self

    def __exit__(self, *exc) -> None:
        self._travel.stop()

    def wait_until(self, at: datetime) -> None:
        gap = (at - timezone.now()).total_seconds()
        if gap <= 0:
            return  # the previous task overran: this one runs late, the clock never goes back
        pause = gap / self.speed
        time.sleep(pause)
        self.waited += pause
        if timezone.now() < at:
            self._traveller.move_to(at)


@dataclass
class DayRun:
    day: date
    speed: float
    coins: int
    seed: int
    simulator: str = ""
    tasks: Counter = field(default_factory=Counter)
    task_seconds: Counter = field(default_factory=Counter)
    late: int = 0  # tasks that started after their time (a previous task overran)
    wall_seconds: float = 0.0
    waited_seconds: float = 0.0
    scans: list[dict] = field(default_factory=list)
    summary_result: dict = field(default_factory=dict)
    inbox: list[dict] = field(default_factory=list)  # every message the simulator's Telegram accepted


def _simulator_settings(url: str) -> dict:
    return {"BINANCE_SPOT_URL": url, "BINANCE_FUTURES_URL": url, "COINGECKO_URL": f"{url}/coingecko/api/v3",
            "LUNARCRUSH_URL": f"{url}/lunarcrush/api4", "TELEGRAM_API_URL": f"{url}/telegram",
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_CHAT_ID": CHAT_ID, "SIMULATOR_URL": url,
            # the run is about what the scheduler does: scanning and outcome tracking on, every coin served
            "AUTO_SCAN_ENABLED": True, "AUTO_OUTCOME_TRACKING": True, "SCAN_MAX_COINS": 0,
            # every scan whole, in this process (chunks spread a large scan over q clusters, none run here)
            "SCAN_CHUNK_SIZE": 10**9}


def _run_task(task: Task, run: DayRun, transport, clock: VirtualClock) -> None:
    # Imported here: the task modules pull in the whole app; planning does not need them.
    from cryptosatx.tasks import scan_task
    from performance.tasks import evaluate_outcomes
    from signals.sender import send_pending
    from signals.summary import send_daily_summary, send_due_summaries
    from signals.tasks import DRAIN_SECONDS, record_new_runs

    now = timezone.now()
    if task.kind == "scan":
        before = Signal.objects.count()
        result = scan_task(task.arg, now=now)
        run.scans.append({"at": task.at.isoformat(), "scanner": task.arg, **result,
                          "signals": Signal.objects.count() - before})
        if result.get("run_id") and ScanRun.objects.filter(pk=result["run_id"], status=ScanRun.RUNNING).exists():
            raise RuntimeError(f"scan {task.arg} #{result['run_id']} was left to a q cluster (a chunked scan): "
                               "simulate-day runs every task in this process; use fewer --coins")
    elif task.kind == "send":
        # signals.tasks.send_alerts on the virtual clock: catch up on unrecorded runs, then pass again while
        # paced rows fall due within DRAIN_SECONDS. (The task builds a Telegram client per call; one client
        # for the run keeps ~1,900 passes cheap.)
        record_new_runs()
        report, deadline = send_pending(transport, now=now), now + timedelta(seconds=DRAIN_SECONDS)
        while report.next_due is not None:
            at = max(report.next_due, timezone.now() + timedelta(seconds=0.2))  # as the task: ≥ 0.2 s apart
            if at > deadline:
                break
            clock.wait_until(at)
            report = send_pending(transport, now=timezone.now())
        send_due_summaries(transport, now=timezone.now())
    elif task.kind == "outcomes":
        evaluate_outcomes(now=now)
    elif task.kind == "summary":
        run.summary_result = send_daily_summary(transport, now=now)


def summary_out(day: date) -> bool:
    """Whether every summary row of `day` has left the outbox (sent, or failed for good)."""
    from signals.models import SummaryDelivery

    return not SummaryDelivery.objects.filter(day=day, status__in=[SummaryDelivery.PENDING,
                                                                   SummaryDelivery.CLAIMED]).exists()


def read_inbox(base_url: str) -> list[dict]:
    reply = httpx.get(f"{base_url}/sim/telegram/messages", timeout=10)
    reply.raise_for_status()
    return reply.json()


def run_day(day: date, *, speed: float, coins: int, seed: int = 42, sim: SimulatorServer | None = None,
            progress: Callable[[str], None] | None = None) -> DayRun:
    """Run `day` from 00:00 to its summary the next morning. `sim`: a simulator already serving (a test's);
    else one is started here with `coins` coins and `seed`."""
    if speed <= 0:
        raise ValueError("speed must be above 0")
    run = DayRun(day=day, speed=speed, coins=coins, seed=seed)
    tasks = plan(day)
    started = time.monotonic()
    with VirtualClock(tasks[0].at, speed) as clock:
        own = sim is None
        if own:
            sim = SimulatorServer(seed=seed, coins=coins).start()
        run.simulator = sim.base_url
        try:
            with override_settings(**_simulator_settings(sim.base_url)):
                from signals.telegram import TelegramTransport

                with TelegramTransport.from_settings() as transport:
                    hour = None
                    for task in tasks:
                        clock.wait_until(task.at)
                        if timezone.now() - task.at > timedelta(seconds=60):
                            run.late += 1
                        t0 = time.monotonic()
                        _run_task(task, run, transport, clock)
                        run.tasks[task.name] += 1
                        run.task_seconds[task.kind] += time.monotonic() - t0
                        if run.summary_result and summary_out(day):
                            break
                        if progress and task.at.hour != hour:
                            hour = task.at.hour
                            progress(_progress_line(task.at, run, time.monotonic() - started))
            run.inbox = read_inbox(sim.base_url)
        finally:
            if own:
                sim.stop()
        run.waited_seconds = clock.waited
    run.wall_seconds = time.monotonic() - started
    return run


def _progress_line(at: datetime, run: DayRun, wall: float) -> str:
    local = timezone.localtime(at)
    return (f"{local:%Y-%m-%d %H:%M} {local.tzname()}  scans {len(run.scans):3d}  "
            f"signals {Signal.objects.count():4d}  wall {wall:5.0f}s")


def _by_status(model) -> dict:
    return dict(Counter(model.objects.values_list("status", flat=True)))


def check_day(run: DayRun) -> dict:
    """What the run left: its rows, the summary as Telegram received it (exactly once?), and the trace of
    every number in it (cryptosatx.daytrace). `ok` is true only if all of that holds."""
    from performance.models import SignalOutcome
    from scanners.models import ScanResult
    from signals.models import AlertDelivery, SummaryDelivery, UnifiedScore

    from .daytrace import trace_summary

    rows = {"ScanRun": ScanRun.objects.count(), "ScanResult": ScanResult.objects.count(),
            "UnifiedScore": UnifiedScore.objects.count(), "Signal": Signal.objects.count(),
            "AlertDelivery": _by_status(AlertDelivery), "SignalOutcome": _by_status(SignalOutcome),
            "SummaryDelivery": _by_status(SummaryDelivery)}
    problems = []
    deliveries = list(SummaryDelivery.objects.filter(day=run.day).select_related("recipient"))
    header = f"DAILY SCAN SUMMARY - {run.day:%b} {run.day.day}, {run.day.year}"
    received = [m for m in run.inbox if header in m["plain_text"]]
    alerts = [m for m in run.inbox if header not in m["plain_text"]]
    summary = {"deliveries": len(deliveries), "received": len(received), "alert_messages": len(alerts)}
    if len(deliveries) != 1:
        problems.append(f"{len(deliveries)} summary deliveries for {run.day} (one recipient: want 1)")
    if len(received) != 1:
        problems.append(f"the simulator's Telegram received the summary {len(received)} times (want exactly 1)")
    trace = None
    if len(deliveries) == 1 and len(received) == 1:
        row, message = deliveries[0], received[0]
        summary.update(status=row.status, message_id=row.message_id, chat_id=row.recipient.chat_id,
                       written_at=row.created_at.isoformat(), sent_at=row.sent_at and row.sent_at.isoformat(),
                       text=message["plain_text"])
        if row.status != SummaryDelivery.SENT or row.message_id != message["message_id"] \
                or str(message["chat_id"]) != str(row.recipient.chat_id) or message["text"] != row.text:
            problems.append("the message Telegram received is not the stored summary row as sent "
                            f"(row {row.status}, message_id {row.message_id} vs {message['message_id']})")
        trace = trace_summary(run.day, message["plain_text"], row.created_at)
        if not trace.ok:
            problems.append(f"{sum(not c.ok for c in trace.checks)} number(s) of the summary disagree with the rows")
    return {"rows": rows, "summary": summary, "trace": trace, "problems": problems, "ok": not problems}

"""`manage.py simulate-day`: a day of the system in accelerated time, and the trace of its daily summary
(cryptosatx.speedrun, cryptosatx.daytrace; docs/alerts.md, "A simulated day")."""
import json as jsonlib
import logging
import os
import subprocess
import sys
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cryptosatx.daytrace import render
from cryptosatx.speedrun import check_day, run_day, summary_time


class Command(BaseCommand):
    help = ("Run one day of the scheduler (scans, alert sender, outcome checks, the daily summary the next morning) "
            "in accelerated time against an in-process market simulator, in a new SQLite database, and trace every "
            "number of the summary its Telegram received back to the rows. Exits 1 if any disagrees.")

    def add_arguments(self, parser):
        parser.add_argument("--speed", type=float, default=1440,
                            help="Virtual seconds per real second between tasks (default 1440: a day in a minute, "
                                 "plus the tasks' own time).")
        parser.add_argument("--coins", type=int, default=60, help="USDT coins the simulator lists (default 60).")
        parser.add_argument("--seed", type=int, default=42, help="The simulator's seed (default 42).")
        parser.add_argument("--day", default="", help="YYYY-MM-DD, a day in TIME_ZONE (default yesterday).")
        parser.add_argument("--db", default="", help="The SQLite file to create (default var/simulate-day/<day>-<time>"
                                                     ".sqlite3); it is kept, so every row can be looked at.")
        parser.add_argument("--this-database", action="store_true",
                            help="Run in the configured database instead (it must hold no scan runs or signals).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object: rows, summary, trace.")

    def handle(self, *args, speed, coins, seed, day, db, this_database: bool = False, json: bool = False, **options):
        if not speed > 0:
            raise CommandError("--speed must be above 0.")
        if not 5 <= coins <= 2000:
            raise CommandError("--coins must be between 5 and 2000.")
        try:
            the_day = date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1)
        except ValueError:
            raise CommandError(f"--day {day!r} is not a date (YYYY-MM-DD).") from None
        verbosity = options.get("verbosity", 1)
        if this_database:
            return self._run(the_day, speed, coins, seed, json, verbosity)
        return self._in_new_database(the_day, db, json, ["--speed", repr(speed), "--coins", str(coins), "--seed",
                                                         str(seed), "--verbosity", str(verbosity),
                                                         *(["--json"] if json else [])])

    def _in_new_database(self, the_day: date, db: str, json: bool, options: list[str]) -> None:
        """Migrate a new SQLite file and run there in a child process (its settings name that database, and
        no shared cache: REDIS_URL is blanked, the run's clock is not the live system's)."""
        path = os.path.abspath(db) if db else str(settings.BASE_DIR / "var" / "simulate-day" /
                                                  f"{the_day}-{datetime.now():%Y%m%d-%H%M%S}.sqlite3")
        if os.path.exists(path):
            raise CommandError(f"{path} exists: give a new --db path (the day needs an empty database).")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "REDIS_URL": ""}
        env.pop("DATABASE_URL_FILE", None)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True)
        if not json:
            self.stdout.write(f"Database: {path}")
        self.stdout.flush()
        child = subprocess.run([*manage, "simulate-day", *options, "--day", the_day.isoformat(), "--this-database"],
                               env=env)
        if child.returncode:
            raise CommandError(f"the simulated day did not check out (exit {child.returncode}); its rows are in {path}")

    def _run(self, the_day: date, speed: float, coins: int, seed: int, json: bool, verbosity: int) -> None:
        from scanners.models import ScanRun
        from signals.models import Signal, SummaryDelivery

        if ScanRun.objects.exists() or Signal.objects.exists() or SummaryDelivery.objects.exists():
            raise CommandError("This database holds scan runs, signals or summaries already: a day's summary counts "
                               "every row of its day, so simulate-day needs an empty database (leave out "
                               "--this-database and it makes one).")
        if not json:
            until = timezone.localtime(summary_time(the_day))
            self.stdout.write(f"Simulating {the_day} 00:00 to {until:%Y-%m-%d %H:%M} {settings.TIME_ZONE} "
                              f"at {speed:g}x with {coins} simulated coins (seed {seed})")
        if verbosity < 2:  # each scan and message logs at INFO: the hourly progress lines say enough
            logging.disable(logging.INFO)
        try:
            run = run_day(the_day, speed=speed, coins=coins, seed=seed, progress=None if json else self._progress)
        finally:
            logging.disable(logging.NOTSET)
        result = check_day(run)
        trace = result.pop("trace")
        facts = {"day": the_day.isoformat(), "speed": speed, "coins": coins, "seed": seed,
                 "time_zone": settings.TIME_ZONE, "wall_seconds": round(run.wall_seconds, 1),
                 "waited_seconds": round(run.waited_seconds, 1),
                 "task_seconds": {k: round(v, 1) for k, v in run.task_seconds.items()},
                 "tasks": dict(run.tasks), "late_tasks": run.late, "summary_task": run.summary_result,
                 "scans": run.scans}
        if json:
            self.stdout.write(jsonlib.dumps({**facts, **result, "trace": trace and trace.as_dict()}, default=str))
        else:
            self._print(facts, result, trace)
        if not result["ok"]:
            raise CommandError("; ".join(result["problems"]))

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # a line an hour as it happens, also when the output is a pipe

    def _print(self, facts: dict, result: dict, trace) -> None:
        w = self.stdout.write
        w(f"\nRan {sum(facts['tasks'].values())} tasks in {facts['wall_seconds']:.0f} s of wall time "
          f"({facts['waited_seconds']:.0f} s waiting at {facts['speed']:g}x; task seconds {facts['task_seconds']}; "
          f"{facts['late_tasks']} started late):")
        w("  " + ", ".join(f"{name} ×{n}" for name, n in sorted(facts["tasks"].items())))
        w("Rows: " + ", ".join(f"{k} {v}" for k, v in result["rows"].items()))
        s = result["summary"]
        w(f"\nThe simulator's Telegram received {s['alert_messages']} alert message(s) and the summary "
          f"{s['received']} time(s)" + (f" (message {s['message_id']} in chat {s['chat_id']}, written "
                                          f"{s['written_at']}, sent {s['sent_at']}):" if "text" in s else "."))
        if "text" in s:
            w("\n".join("  | " + line for line in s["text"].splitlines()))
        if trace is not None:
            w("\n" + render(trace))
        for problem in result["problems"]:
            w(f"PROBLEM: {problem}")

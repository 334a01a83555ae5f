"""`manage.py benchmark backtest` prints its JSON (a measurement, not a timed test: no speed is asserted)."""
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def test_the_backtest_benchmark_prints_its_measurements():
    out = StringIO()
    call_command("benchmark", "backtest", "--coins", "30", "--bars", "600", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["bars"] == 30 * 600 and report["trades"] > 0
    assert report["trades"] == sum(report["exits"].values())
    for key in ("kernel_seconds", "total_seconds", "bars_per_second", "peak_rss_mb", "kernel_cpu_seconds"):
        assert report[key] > 0
    assert len(report["kernel_runs"]) == 6
    assert report["reference"]["same_trades"] is True and report["reference"]["plain_loop_cpu_seconds"] > 0


def test_it_refuses_sizes_out_of_range():
    with pytest.raises(CommandError, match="--bars"):
        call_command("benchmark", "backtest", "--bars", "5", stdout=StringIO())

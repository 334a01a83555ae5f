"""Structured logs: which scan run, signal and task a log line belongs to.

`log_context(run_id=…, signal_id=…, task=…)` sets context variables for the code inside it; every
log record created there carries them as attributes (`record.run_id`, …), whichever logger wrote
it. Context variables follow the code into asyncio tasks and through asgiref's async_to_sync, so a
scan's concurrent fetches log with their run id too (not into plain threads started inside).

Settings' LOGGING wires `ContextFilter` (installs the record factory) with `TextFormatter`
(` [run=12 task=scan rsi]` after the logger name) or `JsonFormatter` (LOG_FORMAT=json: one object
per line). This module imports nothing from Django's apps: LOGGING is configured before them.
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Iterator

FIELDS = ("run_id", "signal_id", "task")
_vars: dict[str, ContextVar] = {name: ContextVar(f"cryptosatx_{name}", default=None) for name in FIELDS}


def current() -> dict[str, Any]:
    """The context now, without the fields that are not set."""
    return {name: var.get() for name, var in _vars.items() if var.get() is not None}


def bind(**values: Any) -> None:
    """Set fields for the rest of the current context (use inside a `log_context`, which undoes it)."""
    for name, value in values.items():
        _vars[name].set(value)


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Set fields for the code inside; on exit every field (also ones `bind` set inside) is restored."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    tokens = [(var, var.set(values.get(name, var.get()))) for name, var in _vars.items()]
    try:
        yield
    finally:
        for var, token in tokens:
            var.reset(token)


_factory_installed = False


def _install_record_factory() -> None:
    """Every LogRecord gets the context's fields, so handlers without our filter (pytest's caplog,
    a library's) see them too."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        for name, var in _vars.items():
            setattr(record, name, var.get())
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class ContextFilter(logging.Filter):
    """Adds the context's fields to records made before the factory was installed."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        _install_record_factory()

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name, None) for name in FIELDS if getattr(record, name, None) is not None}


class TextFormatter(logging.Formatter):
    """The readable format; `%(context)s` is ` [run=12 signal=7 task=scan rsi]` or nothing."""

    SHORT = {"run_id": "run", "signal_id": "signal", "task": "task"}

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        record.context = (" [" + " ".join(f"{self.SHORT[k]}={v}" for k, v in fields.items()) + "]") if fields else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context's
    fields, and the traceback as `exc` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def on_task_start(sender: Any, task: dict | None = None, func: Any = None, **kwargs: Any) -> None:
    """django-q2's pre_execute (connected in cryptosatx.apps): a worker's lines name the task it runs
    until the next one starts. Nested `log_context`s (a scan) narrow it."""
    name = (task or {}).get("name") or getattr(func, "__name__", None) or str(func or "")
    bind(task=name or None, run_id=None, signal_id=None)

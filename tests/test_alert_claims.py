"""Claiming outbox rows: two workers never both hold a row; a dead worker's claim is taken over."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from signals.models import AlertDelivery, Recipient
from signals.sender import LEASE, claim, due_ids, send_pending
from tests.test_alert_support import NOW, FakeTransport, alice, fresh, make_signal, queue


@pytest.mark.django_db
def test_two_interleaved_workers_never_both_claim_a_row():
    a = alice()
    rows = [queue(make_signal(f"C{i}USDT"), a) for i in range(6)]
    seen_by_a, seen_by_b = due_ids(NOW), due_ids(NOW)  # both read the same candidates …
    assert seen_by_a == seen_by_b == [r.pk for r in rows]
    mine_a = claim(seen_by_a[:4], NOW, "worker-a")  # … a claims first …
    mine_b = claim(seen_by_b, NOW, "worker-b")  # … b only gets what a left
    assert mine_a == seen_by_a[:4] and mine_b == seen_by_a[4:]
    assert {fresh(r).claimed_by for r in rows} == {"worker-a", "worker-b"}
    assert claim(seen_by_a, NOW + timedelta(seconds=1), "worker-c") == []


@pytest.mark.django_db
def test_a_claim_older_than_the_lease_is_reclaimed_and_sent():
    a = alice()
    dead = queue(make_signal("DEADUSDT"), a, status="claimed", claimed_at=NOW - LEASE - timedelta(seconds=1),
                 claimed_by="dead-worker")
    busy = queue(make_signal("BUSYUSDT"), a, status="claimed", claimed_at=NOW - timedelta(minutes=1),
                 claimed_by="slow-worker")
    transport = FakeTransport()
    send_pending(transport, now=NOW, worker="alive")
    assert (fresh(dead).status, fresh(dead).claimed_by) == ("sent", "alive")
    assert (fresh(busy).status, fresh(busy).claimed_by) == ("claimed", "slow-worker")  # its lease still runs
    assert len(transport.messages) == 1


@pytest.mark.django_db
def test_a_dead_workers_claim_that_had_started_sending_becomes_possibly_delivered():
    row = queue(make_signal(), alice(), status="claimed", claimed_at=NOW - LEASE - timedelta(seconds=1),
                claimed_by="dead-worker", send_started_at=NOW - LEASE)
    transport = FakeTransport()
    send_pending(transport, now=NOW, worker="alive")
    r = fresh(row)
    assert (r.status, r.reason) == ("possibly_delivered", "worker_died_while_sending")
    assert transport.calls == 0


def run_in_threads(n: int, target) -> list:
    """Run target(i) in n threads started together; each thread uses (and closes) its own connection."""
    barrier, results, errors = threading.Barrier(n), [None] * n, []

    def body(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()
    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="threads with separate connections need a server database")


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the seeded rules
def test_concurrent_workers_on_postgres_claim_each_row_once():
    a = alice()
    ids = [queue(make_signal(f"C{i:02d}USDT"), a).pk for i in range(40)]
    claimed = run_in_threads(4, lambda i: claim(due_ids(NOW), NOW, f"worker-{i}"))
    flat = [pk for got in claimed for pk in got]
    assert sorted(flat) == sorted(ids)  # every row claimed, none twice
    assert len(set(flat)) == len(flat)


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the seeded rules
def test_concurrent_send_passes_on_postgres_send_each_alert_once():
    recipients = [Recipient.objects.create(name=f"r{i}", chat_id=str(5000 + i)) for i in range(12)]
    signal = make_signal(tier=1)
    for r in recipients:
        queue(signal, r)
    transports = [FakeTransport() for _ in range(3)]
    run_in_threads(3, lambda i: send_pending(transports[i], now=NOW, worker=f"worker-{i}"))
    chats = [m.chat_id for t in transports for m in t.messages]
    assert sorted(chats) == sorted(r.chat_id for r in recipients)
    assert set(AlertDelivery.objects.values_list("status", flat=True)) == {"sent"}

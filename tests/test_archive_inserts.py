"""insert_ignoring_conflicts: multi-row INSERTs of whole batches, the rest row by row, existing rows
kept — the same rows as one executemany would write (on SQLite and on PostgreSQL in CI)."""
import pytest

from marketdata import archive
from marketdata.archive import CANDLE_FIELDS, datetime_adapter, insert_ignoring_conflicts
from marketdata.models import Candle, Coin

pytestmark = pytest.mark.django_db
HOUR = 3_600_000


def rows(coin_id: int, hours: range) -> list[tuple]:
    dt = datetime_adapter()
    return [(coin_id, "1h", dt(h * HOUR), dt(h * HOUR + HOUR - 1), 1.0 + h, 2.0 + h, 0.5, 1.5 + h / 7, 10.0, 15.0,
             h, 5.0, 7.5) for h in hours]


@pytest.mark.parametrize("per", [1, 7, 100, 500])
def test_batches_and_the_rest_write_every_row_once_and_keep_existing_ones(monkeypatch, per):
    monkeypatch.setattr(archive, "MAX_ROWS_PER_INSERT", per)
    a, b = Coin.objects.create(symbol="AUSDT", base_asset="A"), Coin.objects.create(symbol="BUSDT", base_asset="B")
    insert_ignoring_conflicts(Candle, CANDLE_FIELDS, rows(a.id, range(400_000, 400_050)))
    first = {c.open_time: c.close for c in Candle.objects.filter(coin=a)}
    batch = rows(a.id, range(400_040, 400_640)) + rows(b.id, range(400_000, 400_333))  # 10 already stored
    changed = [(r[0], *r[1:7], 99.0, *r[8:]) for r in batch]  # existing rows must keep their values
    assert insert_ignoring_conflicts(Candle, CANDLE_FIELDS, changed) == len(batch)
    assert Candle.objects.filter(coin=a).count() == 640 and Candle.objects.filter(coin=b).count() == 333
    kept = {c.open_time: c.close for c in Candle.objects.filter(coin=a, open_time__in=list(first))}
    assert kept == first
    stored = sorted(Candle.objects.filter(coin=b).values_list(*[f.removesuffix("_id") for f in CANDLE_FIELDS]))
    assert [tuple(r[4:]) for r in stored] == [r[4:7] + (99.0,) + r[8:] for r in rows(b.id, range(400_000, 400_333))]


def test_the_statement_stays_within_the_backends_parameter_limit():
    assert archive._rows_per_statement(13) == 500
    assert archive._rows_per_statement(10**9) == 1  # wider than any limit: still one row a statement


def _foreign_keys_on() -> bool:
    from django.db import connection
    if connection.vendor != "sqlite":
        return True  # PostgreSQL has no switch: it checks every row
    with connection.cursor() as cursor:
        return bool(cursor.execute("PRAGMA foreign_keys").fetchone()[0])


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # outside a transaction, where SQLite's per-row check is off
def test_candles_naming_a_missing_coin_are_refused_whole_and_the_check_is_back_on_after():
    from django.db import IntegrityError

    a = Coin.objects.create(symbol="AUSDT", base_asset="A")
    assert archive.write_candle_rows(rows(a.id, range(400_000, 400_600))) == 600
    assert Candle.objects.filter(coin=a).count() == 600 and _foreign_keys_on()
    missing = a.id + 1000
    from django.db import connection
    ours = rf"names no marketdata.Coin \[{missing}\]"  # the check made once per coin; PostgreSQL's own per row
    with pytest.raises(IntegrityError, match=ours if connection.vendor == "sqlite" else "violates foreign key"):
        archive.write_candle_rows(rows(a.id, range(400_600, 401_200)) + rows(missing, range(400_000, 400_010)))
    assert Candle.objects.count() == 600  # nothing of the refused batch, not even the valid coin's rows
    assert _foreign_keys_on()
    # A deleted coin takes its candles with it (the cascade finds them through the unique index).
    a.delete()
    assert Candle.objects.count() == 0


def test_inside_a_callers_transaction_the_database_keeps_checking_every_row():
    """The pragma cannot change inside a transaction, so there the database's own (deferred) check stays."""
    from django.db import IntegrityError, connection, transaction

    a = Coin.objects.create(symbol="AUSDT", base_asset="A")
    with pytest.raises(IntegrityError):
        with transaction.atomic():  # rolled back to its savepoint; the test's transaction goes on
            archive.write_candle_rows(rows(a.id, range(400_000, 400_600)) + rows(a.id + 1000, range(400_000, 400_010)))
            assert _foreign_keys_on()
            connection.check_constraints(table_names=[Candle._meta.db_table])  # what the commit would check
    assert Candle.objects.count() == 0

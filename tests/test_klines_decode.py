"""decode_klines: Binance's quoted numbers parsed by orjson once the quotes are out — the same values as
decoding the body as sent and converting each field, or, for anything unusual, exactly the old path."""
import json
import random

import orjson
import pytest
from asgiref.sync import async_to_sync

from marketdata.binance_spot import KlineColumns, decode_klines
from marketdata.errors import MalformedResponseError
from marketdata.session import MarketDataSession
from tests.conftest import point_spot_at
from tests.httpservers import ScriptedServer

ROW = [1700000000000, "1.00000000", "2.00000000", "0.50000000", "1.50000000", "10.00000000", 1700003599999,
       "15.00000000", 7, "5.00000000", "7.50000000", "0"]


def columns_as_sent(body: bytes) -> KlineColumns:
    return KlineColumns.parse(orjson.loads(body))


def test_the_numbers_are_the_ones_float_gives_for_a_million_values():
    rng = random.Random(7)
    values = [f"{rng.random() * 10 ** rng.randint(-8, 9):.{rng.randint(0, 8)}f}" for _ in range(1_000_000)]
    values += ["0.00000982", "0.00000491", "123456789.12345678", "99999999.99999999", "0.00000001"]
    values += ["1"] * (-len(values) % 6)  # whole rows of six values
    rows = [[1, *values[i:i + 5], 2, values[i + 5], 3, "4", "5", "0"] for i in range(0, len(values), 6)]
    body = json.dumps(rows).encode()
    fast = decode_klines(body)
    assert fast is not None and all(type(v) in (int, float) for row in fast for v in row)
    for name in KlineColumns.__slots__:
        assert getattr(KlineColumns.parse(fast), name) == getattr(columns_as_sent(body), name)


@pytest.mark.parametrize("bad", ['"true"', '"null"', '"1,5"', '"]"', '"NaN"', '""', '"abc"', "1.5", '"1e999"'])
def test_anything_unusual_is_decoded_as_sent(bad):
    """A quoted word that would become a JSON literal, a comma or bracket that would shift a row, a
    field sent unquoted: the body is decoded as it came, so the field-by-field check sees it."""
    row = json.dumps(ROW).replace('"2.00000000"', bad)
    body = f"[{json.dumps(ROW)},{row}]".encode()
    assert decode_klines(body) == orjson.loads(body)


def test_an_empty_answer_and_a_non_list():
    assert decode_klines(b"[]") == []
    assert decode_klines(b'{"code":-1121,"msg":"Invalid symbol."}') == {"code": -1121, "msg": "Invalid symbol."}
    with pytest.raises(ValueError):
        decode_klines(b'[[1,"2"')


@pytest.mark.parametrize("bad, message", [('"true"', "field high is not a number"), ('"1,5"', "field high is not a number"),
                                          ('"NaN"', "field high is not finite")])
@pytest.mark.django_db
def test_a_bad_field_is_still_named_over_http(settings, bad, message):
    body = ("[" + json.dumps(ROW).replace('"2.00000000"', bad) + "]").encode()
    with ScriptedServer(lambda p, q: (200, {"Content-Type": "application/json"}, body)) as server:
        point_spot_at(settings, server.base_url)

        async def go():
            async with MarketDataSession() as md:
                try:
                    return await md.spot.klines("BTCUSDT", "1h")
                except MalformedResponseError as exc:
                    return exc
        result = async_to_sync(go)()
    assert isinstance(result, MalformedResponseError) and message in str(result)

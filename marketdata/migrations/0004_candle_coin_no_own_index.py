from django.db import migrations, models
import django.db.models.deletion

# The foreign key's own index on coin_id duplicates the first column of the unique
# (coin, interval, open_time) index, which serves every query by coin and the coin's cascade; each
# index slows the half-million-row candle inserts of a cold scan. Dropped by name rather than by
# AlterField, which on SQLite would copy the whole candle table to rebuild it.
INDEX = "marketdata_candle_coin_id_b312439d"


class Migration(migrations.Migration):

    dependencies = [
        ('marketdata', '0003_candle_drop_time_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{INDEX}"',
                                  reverse_sql=f'CREATE INDEX "{INDEX}" ON "marketdata_candle" ("coin_id")'),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='candle',
                    name='coin',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name='candles', to='marketdata.coin'),
                ),
            ],
        ),
    ]

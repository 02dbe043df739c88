"""The service fixture layer itself: each fixture hands out a working, isolated resource."""

import pymysql
import redis
import sqlalchemy as sa


def test_mysql_database_is_fresh_and_usable(mysql_database):
    connection = pymysql.connect(**mysql_database)
    with connection.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        assert cursor.fetchall() == ()
        cursor.execute("SELECT %s + %s", (2, 3))
        assert cursor.fetchone() == (5,)
    connection.close()


def test_redis_settings_round_trip(redis_settings):
    settings = dict(redis_settings)
    prefix = settings.pop("key_prefix")
    client = redis.Redis(**settings)
    client.set(prefix + "probe", b"\x00\x01")
    assert client.get(prefix + "probe") == b"\x00\x01"


def test_postgres_database_is_fresh(postgres_database):
    url = sa.engine.URL.create(
        "postgresql+psycopg2",
        username=postgres_database["user"],
        host=postgres_database["host"],
        port=postgres_database["port"],
        database=postgres_database["database"],
    )
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT current_database()")).scalar()
            == postgres_database["database"]
        )
    engine.dispose()

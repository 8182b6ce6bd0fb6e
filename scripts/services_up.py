"""Exit 0 when the PostgreSQL and Redis URLs given on the command line answer, else say why."""

import sys

import dj_database_url
import psycopg
import redis


def main() -> int:
    pg_url, redis_url = sys.argv[1], sys.argv[2]
    cfg = dj_database_url.parse(pg_url)
    try:
        psycopg.connect(
            host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], password=cfg["PASSWORD"] or None,
            dbname="postgres", connect_timeout=3,
        ).close()
    except Exception as exc:
        print(f"PostgreSQL at {cfg['HOST']}:{cfg['PORT']} unreachable: {exc}", file=sys.stderr)
        return 1
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        print(f"Redis at {redis_url} unreachable: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

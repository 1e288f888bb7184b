#!/bin/sh
# Web entrypoint: wait for the database, apply migrations, then run the given command.
# (`manage.py check --database default` does not connect to PostgreSQL, so it cannot wait.)
set -eu

connect="from django.db import connection; connection.ensure_connection()"
tries=1
until python manage.py shell -c "$connect" >/dev/null 2>&1; do
    if [ "$tries" -ge 30 ]; then
        echo "entrypoint: no database after $tries tries" >&2
        python manage.py shell -c "$connect" >/dev/null  # shows why and stops (set -e)
    fi
    tries=$((tries + 1))
    sleep 2
done

python manage.py migrate --noinput
exec "$@"

#!/usr/bin/env bash
# Installs and starts what the test suite needs beyond Python: a PostgreSQL server (the Store's
# multi-process tests) and headless Chromium (the transcript browser's tests). Source it:
#   . scripts/ci_services.sh
# It exports OVERSIGHT_TEST_POSTGRES_URL and OVERSIGHT_CHROMIUM for the tests.
set -euo pipefail
PG_PORT=${PG_PORT:-55432}
PG_DATA=${PG_DATA:-/tmp/oversight-pgdata}
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
if ! "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; then
  rm -rf "$PG_DATA"
  mkdir -p "$PG_DATA"
  chown postgres:postgres "$PG_DATA"
  su postgres -s /bin/sh -c "'$PG_BIN/initdb' -D '$PG_DATA' -U postgres --auth=trust" >/dev/null
  su postgres -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$PG_DATA' -l '$PG_DATA/server.log' \
    -o '-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200' -w start" >/dev/null
fi
export OVERSIGHT_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:${PG_PORT}/postgres"
export OVERSIGHT_CHROMIUM=$(command -v chromium)
echo "services: PostgreSQL on 127.0.0.1:${PG_PORT}, Chromium at ${OVERSIGHT_CHROMIUM}"

# Helpers to make sure the servers tests need are running. Sourced by scripts/test.
# Nothing here skips a test: when a server cannot be had, the script stops with the reason.

log() { printf 'scripts/test: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

apt_install() {
  log "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed (need root or sudo)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

pg_answers() {
  command -v psql >/dev/null 2>&1 && psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

wait_for_pg() {
  for _ in $(seq 1 60); do pg_answers "$1" && return 0; sleep 0.5; done
  return 1
}

# Sets TEST_DATABASE_URL to a Postgres that answers, starting or installing one if needed.
ensure_postgres() {
  local default="postgres://postgres@127.0.0.1:5432/postgres"
  if [ -n "${TEST_DATABASE_URL:-}" ]; then
    command -v psql >/dev/null 2>&1 || apt_install postgresql-client
    pg_answers "$TEST_DATABASE_URL" || die "TEST_DATABASE_URL does not answer: ${TEST_DATABASE_URL}"
    return
  fi
  TEST_DATABASE_URL=$default
  if pg_answers "$TEST_DATABASE_URL"; then return; fi

  # The machine's own cluster, stopped.
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    if [ -n "$version" ]; then
      log "starting the Postgres $version cluster"
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
      if wait_for_pg "$TEST_DATABASE_URL"; then return; fi
    fi
  fi

  # None: install the server and run a throw-away cluster of our own with trust auth.
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || apt_install postgresql
  local bin dir port=54329
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  dir=${TMPDIR:-/tmp}/enroll-test-pg
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$dir" postgres
    run=(runuser -u postgres --)   # initdb refuses to run as root
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    "${run[@]}" "$bin/initdb" -D "$dir" -A trust -U postgres >/dev/null || die "initdb failed in $dir"
  fi
  log "starting a test Postgres on 127.0.0.1:$port ($dir)"
  "${run[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir" start >/dev/null 2>&1 || true
  TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  wait_for_pg "$TEST_DATABASE_URL" || die "could not start Postgres (see $dir/server.log)"
}

# Test databases of runs that were killed before their cleanup.
drop_stale_test_databases() {
  local name
  for name in $(psql "$TEST_DATABASE_URL" -Atqc "select datname from pg_database where datname like 'enroll\_it\_%'"); do
    psql "$TEST_DATABASE_URL" -qc "drop database if exists \"$name\" with (force)" >/dev/null 2>&1 || true
  done
}

redis_answers() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -u "$1" ping 2>/dev/null)" = "PONG" ]
  else
    # No client: speak RESP over bash's /dev/tcp.
    local hostport=${1#redis://}; hostport=${hostport%%/*}
    exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" 2>/dev/null || return 1
    printf 'PING\r\n' >&3; local reply; read -r -t 2 reply <&3; exec 3<&- 3>&-
    [ "${reply%$'\r'}" = "+PONG" ]
  fi
}

# Sets TEST_REDIS_URL to a Redis that answers, starting (or installing) one if needed.
ensure_redis() {
  TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
  if redis_answers "$TEST_REDIS_URL"; then return; fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  local port=${TEST_REDIS_URL##*:}; port=${port%%/*}
  log "starting Redis on 127.0.0.1:$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/enroll-test-redis.log" >/dev/null || die "could not start Redis"
  for _ in $(seq 1 40); do redis_answers "$TEST_REDIS_URL" && return 0; sleep 0.25; done
  die "Redis did not answer at $TEST_REDIS_URL"
}

# Chromium and ChromeDriver for the dashboard's browser tests (Debian packages).
ensure_chromium() {
  if [ -n "${TEST_CHROMEDRIVER:-}" ] && [ -x "$TEST_CHROMEDRIVER" ]; then return; fi
  if ! command -v chromedriver >/dev/null 2>&1 || ! { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
    apt_install chromium chromium-driver
  fi
  TEST_CHROMEDRIVER=$(command -v chromedriver)
  TEST_CHROMIUM=$(command -v chromium || command -v chromium-browser)
  export TEST_CHROMEDRIVER TEST_CHROMIUM
}

# Schemathesis (PyPI) for the OpenAPI check (tests/it/openapi.rs), in a venv under target/.
# Pinned: a new release may generate other cases; bump it on purpose.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  if [ -n "${TEST_SCHEMATHESIS:-}" ] && [ -x "$TEST_SCHEMATHESIS" ]; then return; fi
  local venv
  venv="$(cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
  venv="${venv:-$PWD/target}/schemathesis"
  TEST_SCHEMATHESIS="$venv/bin/schemathesis"
  if [ -x "$TEST_SCHEMATHESIS" ] && "$TEST_SCHEMATHESIS" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    return
  fi
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  # Debian's python3 makes venvs only with python3-venv installed.
  python3 -m venv "$venv" >/dev/null 2>&1 || { rm -rf "$venv"; apt_install python3-venv; python3 -m venv "$venv"; } \
    || die "python3 -m venv failed"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" </dev/null \
    || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed (needs PyPI)"
  "$TEST_SCHEMATHESIS" --version >/dev/null || die "schemathesis does not run: $TEST_SCHEMATHESIS"
}

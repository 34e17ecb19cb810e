#!/usr/bin/env bash
# Brings up a Tryton 8.2 server for the marketsync-tryton live tests, from nothing or warm.
#
#   scripts/tryton-up.sh          # set up (if needed) and start; prints the env to export
#   scripts/tryton-up.sh --stop   # stop the server this script started
#
# Needs: python3 (with venv), a PostgreSQL at 127.0.0.1:5432 with trust auth for `postgres`
# (the development and CI machines have one), and PyPI.
#
# Everything lives outside the work tree, under $MARKETSYNC_TRYTON_HOME (default
# ~/.cache/marketsync-tryton): the venv, the server config, the admin password file, the
# filestore, the log and the pid file. The database is `$MARKETSYNC_TRYTON_DB` (default
# `marketsync_tryton`) on the local PostgreSQL.
#
# Idempotent: a second run checks a stamp (hashes of the pinned requirements and setup script,
# and of the marketsync Tryton module in scripts/tryton/marketsync) and, when it matches, only
# makes sure the server answers. A change to the pins or setup_db.py re-runs the module update
# and the (idempotent) data setup; a change to the module alone (or a database set up before
# the module existed, once its stamp has the same pins) updates only the `marketsync` module.
#
# On success the last lines are `export MARKETSYNC_TRYTON_…=…` lines for `eval`.
#
# Safe to run concurrently (several test binaries, CI and a shell at once): everything runs
# under an exclusive lock on $home/lock (flock), so one caller sets up and starts the server and
# the others wait, then find it warm. The live tests (crates/erp/tryton/tests) run this script
# themselves when MARKETSYNC_TRYTON_URL is absent, passing MARKETSYNC_TRYTON_RUN (an id of the
# `cargo test` process): the first caller of a run does the full check above, later callers of
# the same run only check that the server process is alive.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
home="${MARKETSYNC_TRYTON_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/marketsync-tryton}"
db="${MARKETSYNC_TRYTON_DB:-marketsync_tryton}"
port="${MARKETSYNC_TRYTON_PORT:-8765}"
pg_uri="${MARKETSYNC_TRYTON_PG_URI:-postgresql://postgres@127.0.0.1:5432/}"
password="${MARKETSYNC_TRYTON_PASSWORD:-marketsync-admin}"
python="${PYTHON:-python3}"

venv="$home/venv"
conf="$home/trytond.conf"
pidfile="$home/trytond.pid"
logfile="$home/trytond.log"
stamp="$home/stamp-$db"
url="http://127.0.0.1:$port/"

say() { printf '[tryton-up] %s\n' "$*" >&2; }

server_pid() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"
}

stop_server() {
  local pid
  if pid="$(server_pid)"; then
    say "stopping trytond (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
}

print_env() {
  echo "export MARKETSYNC_TRYTON_URL=$url"
  echo "export MARKETSYNC_TRYTON_DB=$db"
  echo "export MARKETSYNC_TRYTON_LOGIN=admin"
  echo "export MARKETSYNC_TRYTON_PASSWORD_FILE=$passfile"
}

started=$SECONDS
mkdir -p "$home/filestore"
chmod 700 "$home"
passfile="$home/admin-password"

# One caller at a time. The lock is on fd 9, which the server must not inherit (it would hold
# the lock for as long as it runs): its command line closes it.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$home/lock"
  if ! flock -n 9; then
    say "waiting for another run of this script (lock $home/lock)"
    if ! flock -w 1800 9; then say "still locked after 30 min: giving up"; exit 1; fi
  fi
else
  say "flock(1) not found: not serialising against concurrent runs of this script"
fi

if [ "${1:-}" = "--stop" ]; then
  stop_server
  exit 0
fi

# Later callers of one test run: the first one checked everything; the server only has to be
# alive still.
run_file="$home/run-$db-$port"
run_id="${MARKETSYNC_TRYTON_RUN:-}"
if [ -n "$run_id" ] && [ "$(cat "$run_file" 2>/dev/null)" = "$run_id" ] && server_pid >/dev/null \
  && [ -f "$passfile" ]; then
  say "Tryton already up for this test run at ${url}${db}/rpc/"
  print_env
  exit 0
fi
rm -f "$run_file"

# 1. The venv with the pinned Tryton packages (re-installed when the pins change).
req_hash="$(sha256sum "$here/tryton/requirements.txt" | cut -c1-16)"
if [ ! -x "$venv/bin/trytond" ] || [ "$(cat "$venv/.req-hash" 2>/dev/null)" != "$req_hash" ]; then
  say "creating venv in $venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip >/dev/null 2>&1 || true
  "$venv/bin/pip" install --quiet -r "$here/tryton/requirements.txt"
  echo "$req_hash" > "$venv/.req-hash"
fi

# 1b. The marketsync Tryton module (scripts/tryton/marketsync: the unique idempotency key on
# account.move, sale.sale, stock.shipment.out and account.invoice and the atomic find-or-make-
# and-finish RPCs), copied into the venv's trytond/modules on every run so a recreated venv has
# it too. A changed module is upgraded into an existing database below (`-u marketsync`), which
# adds the new columns and unique constraints without touching the data.
modules_dir="$("$venv/bin/python" -c 'import os, trytond.modules as m; print(os.path.dirname(m.__file__))')"
if ! diff -rq -x __pycache__ "$here/tryton/marketsync" "$modules_dir/marketsync" >/dev/null 2>&1; then
  rm -rf "$modules_dir/marketsync"
  cp -r "$here/tryton/marketsync" "$modules_dir/marketsync"
  find "$modules_dir/marketsync" -name __pycache__ -prune -exec rm -rf {} +
fi

# 2. Server configuration and the first admin password (never printed).
cat > "$conf" <<EOF
[database]
uri = $pg_uri
path = $home/filestore
list = False

[web]
listen = 127.0.0.1:$port

[session]
# Buttons such as account.move.post need a "fresh" session: keep the default 5 minutes; the
# adapter logs in again when the server answers 401.
timeout = 300
EOF
# Written aside and renamed: tests of a concurrent run may be reading it.
( umask 077; printf '%s\n' "$password" > "$passfile.tmp" && mv -f "$passfile.tmp" "$passfile" )

# 3. The database, modules and data, unless the stamp says it is all there.
# The stamp has two parts: the pins and the data setup (a change re-runs everything), and the
# marketsync module's files (a change on an existing database, e.g. one set up by an earlier
# version of this script, only updates that module: the warm start upgrades it quickly).
base_stamp="$( (cat "$here/tryton/requirements.txt" "$here/tryton/setup_db.py"; \
  echo "$db $pg_uri") | sha256sum | cut -c1-32)"
module_stamp="$(find "$here/tryton/marketsync" -type f ! -path '*/__pycache__/*' | LC_ALL=C sort \
  | xargs cat | sha256sum | cut -c1-32)"
want_stamp="$base_stamp $module_stamp"
# PostgreSQL may just have been started (CI): wait up to 30 s for it to accept connections.
for i in $(seq 1 60); do
  if "$venv/bin/python" -c 'import sys, psycopg; psycopg.connect(sys.argv[1] + "postgres").close()' "$pg_uri" 2>/dev/null; then
    break
  fi
  if [ "$i" = 60 ]; then say "PostgreSQL at $pg_uri does not answer"; exit 1; fi
  sleep 0.5
done
db_exists() {
  "$venv/bin/python" - "$pg_uri" "$db" <<'EOF'
import sys, psycopg
conn = psycopg.connect(sys.argv[1] + "postgres")
cur = conn.cursor()
cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sys.argv[2],))
sys.exit(0 if cur.fetchone() else 1)
EOF
}
have_stamp="$(cat "$stamp" 2>/dev/null || true)"
if [ "$have_stamp" != "$want_stamp" ] || ! db_exists; then
  stop_server
  full=1
  if [ "${have_stamp%% *}" = "$base_stamp" ] && db_exists; then full=0; fi
  if ! db_exists; then
    say "creating database $db"
    "$venv/bin/python" - "$pg_uri" "$db" <<'EOF'
import sys, psycopg
conn = psycopg.connect(sys.argv[1] + "postgres", autocommit=True)
conn.cursor().execute('CREATE DATABASE "%s" ENCODING \'UTF8\' TEMPLATE template0' % sys.argv[2])
EOF
  fi
  if [ "$full" = 1 ]; then
    modules="account account_invoice sale stock company currency party product marketsync"
  else
    modules="marketsync"
  fi
  say "activating modules: $modules (trytond-admin)"
  # --administrator on every run: in 8.x an update without it (but with --email) demotes the
  # user to non-administrator.
  # shellcheck disable=SC2086
  TRYTONPASSFILE="$passfile" "$venv/bin/trytond-admin" -c "$conf" -d "$db" -u $modules \
    --activate-dependencies --administrator --email admin@marketsync.invalid >"$home/admin.log" 2>&1 \
    || { cat "$home/admin.log" >&2; exit 1; }
  if [ "$full" = 1 ]; then
    say "setting up companies, charts, fiscal years, parties and products"
    "$venv/bin/python" "$here/tryton/setup_db.py" "$conf" "$db" >&2
  fi
  echo "$want_stamp" > "$stamp"
fi

# 4. The server, preloading the database (-d) so the first login works.
answers() {
  "$venv/bin/python" - "$url" "$db" "$password" <<'EOF'
import json, sys, urllib.request
url, db, password = sys.argv[1:4]
body = json.dumps({"id": 0, "method": "common.db.login",
                   "params": ["admin", {"password": password}]}).encode()
req = urllib.request.Request(url + db + "/rpc/", body, {"Content-Type": "application/json"})
try:
    res = json.load(urllib.request.urlopen(req, timeout=5))
except Exception:
    sys.exit(1)
sys.exit(0 if isinstance(res.get("result"), list) else 1)
EOF
}
if ! server_pid >/dev/null || ! answers; then
  stop_server
  say "starting trytond on 127.0.0.1:$port (log $logfile)"
  setsid nohup "$venv/bin/trytond" -c "$conf" -d "$db" --pidfile "$pidfile" \
    >"$logfile" 2>&1 < /dev/null 9>&- &
  for i in $(seq 1 120); do
    if answers; then break; fi
    if [ "$i" = 120 ]; then
      say "trytond did not answer within 60 s; last log lines:"
      tail -n 30 "$logfile" >&2
      exit 1
    fi
    sleep 0.5
  done
fi

if [ -n "$run_id" ]; then echo "$run_id" > "$run_file"; fi
say "Tryton ready at ${url}${db}/rpc/ in $((SECONDS - started)) s"
print_env

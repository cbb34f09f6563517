#!/usr/bin/env bash
# Private PostgreSQL cluster for development and tests.
#
#   scripts/pg.sh start|stop|status|url|env|destroy [NAME]
#
# NAME (default "dev") selects the cluster directory .local/pg/NAME under the repository root.
# Layout of .local/pg/NAME (owned by whoever runs this script):
#   port       the TCP port the cluster listens on (127.0.0.1 only; reused while free)
#   password   the superuser password, generated from /dev/urandom at the first start (0600)
#   pgpass     a libpq passfile for it (0600); `env` exports PGPASSFILE pointing here
#   server/    data/ (PGDATA) and postgres.log. When the script runs as root the server runs as
#              the `postgres` system user (PostgreSQL refuses root), so server/ is owned by it. If
#              that user cannot traverse the repository path (e.g. a clone inside a 0700 mktemp -d
#              dir), server is a symlink to /var/tmp/outcall-pg/<sha1 of repo path>-NAME.
#
#   start    initdb on first use, then start (idempotent); creates database "outcall".
#            Does nothing when DATABASE_URL already points elsewhere (external database).
#   stop     fast shutdown if running.
#   crash    immediate shutdown (no checkpoint, clients cut off: what a crash does; the next start
#            runs crash recovery). For fault-injection tests.
#   log      the path of the server log (postgres.log).
#   status   running or not, port, data dir (exit 0 running, 3 not running).
#   url      postgresql://outcall_admin@127.0.0.1:<port>/outcall (no password).
#   env      export lines: eval "$(scripts/pg.sh env test)".
#   destroy  stop and delete the cluster and its data (tests and CI clean-up).
set -euo pipefail

readonly SUPERUSER=outcall_admin
readonly DBNAME=outcall
readonly FIRST_PORT=55432
readonly LAST_PORT=55999
readonly EXTERNAL_ROOT=/var/tmp/outcall-pg

die() { echo "pg.sh: error: $*" >&2; exit 1; }
note() { echo "pg.sh: $*" >&2; }

usage() {
  echo "usage: scripts/pg.sh start|stop|crash|status|url|env|log|destroy [NAME]   (NAME defaults to dev)" >&2
  exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
CMD=$1
NAME=${2:-dev}
[[ $NAME =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "invalid cluster name '$NAME' (letters, digits, _ . -)"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CLUSTER=$REPO/.local/pg/$NAME
SERVER_LINK=$CLUSTER/server
PORT_FILE=$CLUSTER/port
PASSWORD_FILE=$CLUSTER/password
PGPASS_FILE=$CLUSTER/pgpass

# ---------------------------------------------------------------------------------------------
# PostgreSQL binaries: PG_BIN overrides; else the newest /usr/lib/postgresql/*/bin; else PATH.
find_pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then
    [ -x "$PG_BIN/pg_ctl" ] || die "PG_BIN=$PG_BIN has no pg_ctl"
    echo "$PG_BIN"; return
  fi
  if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then echo /usr/lib/postgresql/15/bin; return; fi
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && best=$d; done
  if [ -z "$best" ] && command -v pg_ctl >/dev/null 2>&1; then best=$(dirname "$(command -v pg_ctl)"); fi
  [ -n "$best" ] || die "PostgreSQL server binaries not found (install postgresql-15: scripts/install-deps.sh)"
  echo "$best"
}

IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1

# Run a server-side command (initdb, pg_ctl) as the user that owns the data directory.
# Always from / so that an untraversable current directory does not matter.
RUN_AS=""
# fd 9 (the cluster lock) is closed: the postmaster must not inherit it and hold the lock forever.
as_server() {
  if [ -n "$RUN_AS" ]; then
    (cd / && exec runuser -u "$RUN_AS" -- "$@") 9>&-
  else
    (cd / && exec "$@") 9>&-
  fi
}

# Decide which user runs the server. As root: the owner of an existing data dir if that is not
# root, else "postgres". Otherwise: the current user (who must own the data dir).
choose_server_user() {
  local pgdata=$1 owner
  if [ "$IS_ROOT" -eq 1 ]; then
    command -v runuser >/dev/null 2>&1 || die "runuser not found (util-linux)"
    owner=""
    [ -d "$pgdata" ] && owner=$(stat -c %U "$pgdata")
    if [ -n "$owner" ] && [ "$owner" != root ] && [ "$owner" != UNKNOWN ]; then
      RUN_AS=$owner
    else
      id postgres >/dev/null 2>&1 ||
        die "running as root needs the 'postgres' system user to run the server (install postgresql-15)"
      RUN_AS=postgres
    fi
  else
    RUN_AS=""
    if [ -d "$pgdata" ] && [ "$(stat -c %u "$pgdata")" != "$(id -u)" ]; then
      die "data dir $pgdata belongs to $(stat -c %U "$pgdata"); run this script as that user or as root"
    fi
  fi
}

# The real (physical) server directory, or empty when the cluster was never set up.
server_dir() {
  if [ -L "$SERVER_LINK" ] || [ -d "$SERVER_LINK" ]; then
    readlink -f "$SERVER_LINK" || true
  fi
}

pgdata_of() { echo "$1/data"; }

is_initialised() { [ -n "$1" ] && [ -f "$1/data/PG_VERSION" ]; }

# pg_ctl status: 0 running, 3 not running, 4 no data dir.
server_running() {
  local pgdata=$1 rc=0
  [ -f "$pgdata/PG_VERSION" ] || return 1
  as_server "$PGBIN/pg_ctl" status -D "$pgdata" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 0 ]
}

port_is_free() {
  local port=$1
  if command -v python3 >/dev/null 2>&1; then
    # SO_REUSEADDR like the postmaster itself, so TIME_WAIT leftovers of a previous run do not
    # make a port look busy; a live listener still does.
    python3 - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
    return
  fi
  command -v ss >/dev/null 2>&1 || die "need python3 or ss (iproute2) to find a free port"
  [ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
}

# Ports recorded by the other clusters of this repository, so that stopped siblings keep theirs.
sibling_ports() {
  local f
  for f in "$REPO"/.local/pg/*/port; do
    [ -f "$f" ] || continue
    [ "$f" = "$PORT_FILE" ] && continue
    cat "$f"
  done
}

pick_port() {
  local p taken
  taken=" $(sibling_ports | tr '\n' ' ') "
  for ((p = FIRST_PORT; p <= LAST_PORT; p++)); do
    [[ $taken == *" $p "* ]] && continue
    if port_is_free "$p"; then echo "$p"; return; fi
  done
  die "no free TCP port in $FIRST_PORT..$LAST_PORT on 127.0.0.1"
}

local_url() { echo "postgresql://$SUPERUSER@127.0.0.1:$1/$DBNAME"; }

recorded_port() {
  [ -f "$PORT_FILE" ] || return 1
  local p
  p=$(tr -d ' \n' <"$PORT_FILE")
  [[ $p =~ ^[0-9]+$ ]] || die "corrupt port file $PORT_FILE"
  echo "$p"
}

# DATABASE_URL set to something other than the URL of one of this repository's clusters (as
# exported by `env`) => an external database is in use.
external_database() {
  [ -n "${DATABASE_URL:-}" ] || return 1
  local f p
  for f in "$REPO"/.local/pg/*/port; do
    [ -f "$f" ] || continue
    p=$(tr -d ' \n' <"$f")
    [ "$DATABASE_URL" = "$(local_url "$p")" ] && return 1
  done
  return 0
}

psql_admin() {
  # $1 = port, rest = psql args; TCP only, password from the passfile, never on a command line.
  local port=$1; shift
  PGPASSFILE=$PGPASS_FILE PGCONNECT_TIMEOUT=10 PGOPTIONS="" \
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -d "host=127.0.0.1 port=$port user=$SUPERUSER dbname=postgres" "$@"
}

# ---------------------------------------------------------------------------------------------
# Set up the server directory (and decide where the data lives). Prints nothing on stdout.
prepare_server_dir() {
  local srv
  umask 077
  mkdir -p "$CLUSTER"
  srv=$(server_dir)
  if [ -n "$srv" ] && [ -d "$srv" ]; then
    SERVER=$srv
    return
  fi
  # Dangling symlink (external data removed) or nothing yet: (re)create.
  [ -L "$SERVER_LINK" ] && rm -f "$SERVER_LINK"

  if [ "$IS_ROOT" -eq 0 ]; then
    mkdir -m 0700 "$SERVER_LINK"
    SERVER=$SERVER_LINK
    return
  fi

  choose_server_user ""
  # Let the server user traverse (not list) the cluster dir; secrets in it stay 0600 root.
  chmod 0711 "$CLUSTER"
  if runuser -u "$RUN_AS" -- test -x "$CLUSTER" 2>/dev/null; then
    mkdir -m 0700 "$SERVER_LINK"
    chown "$RUN_AS:" "$SERVER_LINK"
    SERVER=$SERVER_LINK
  else
    chmod 0700 "$CLUSTER"
    local hash ext
    hash=$(printf '%s' "$REPO" | sha1sum | cut -c1-40)
    ext=$EXTERNAL_ROOT/$hash-$NAME
    if [ ! -d "$EXTERNAL_ROOT" ]; then
      mkdir -m 0755 "$EXTERNAL_ROOT"
    fi
    [ ! -L "$EXTERNAL_ROOT" ] && [ "$(stat -c %u "$EXTERNAL_ROOT")" = 0 ] ||
      die "$EXTERNAL_ROOT must be a directory owned by root"
    case "$(stat -c %A "$EXTERNAL_ROOT")" in
      ?????w????|????????w?) die "$EXTERNAL_ROOT must not be group/other writable" ;;
    esac
    chmod 0755 "$EXTERNAL_ROOT"
    if [ -e "$ext" ]; then
      # Left over from an earlier clone at the same path whose .local was deleted: its password
      # is gone with it, so the data is unusable. Stop it if it still runs, then start afresh.
      note "discarding stale data in $ext (its .local/pg/$NAME metadata is gone)"
      if [ -f "$ext/data/postmaster.pid" ]; then
        (cd / && exec runuser -u "$(stat -c %U "$ext/data")" -- "$PGBIN/pg_ctl" stop -D "$ext/data" -m immediate -w) \
          >/dev/null 2>&1 9>&- || true
      fi
      rm -rf --one-file-system "$ext"
    fi
    mkdir -m 0700 "$ext"
    chown "$RUN_AS:" "$ext"
    ln -s "$ext" "$SERVER_LINK"
    SERVER=$ext
  fi
}

do_initdb() {
  local pgdata=$1 locale pw pwtmp
  locale=C
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
  # 24 random bytes as 48 hex digits: no characters that need escaping in pgpass or URLs.
  pw=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  [ ${#pw} -eq 48 ] || die "could not generate a password from /dev/urandom"

  rm -f "$PASSWORD_FILE" "$PGPASS_FILE" "$PORT_FILE"
  (umask 077 && printf '%s\n' "$pw" >"$PASSWORD_FILE")
  (umask 077 && printf '127.0.0.1:*:*:%s:%s\n' "$SUPERUSER" "$pw" >"$PGPASS_FILE")
  chmod 0600 "$PASSWORD_FILE" "$PGPASS_FILE"

  # initdb reads the password from a file the server user can read: a short-lived 0600 copy
  # inside the (0700, server-owned) server dir.
  pwtmp=$SERVER/.initdb-pw
  rm -f "$pwtmp"
  printf '%s\n' "$pw" | as_server sh -c 'umask 077; cat >"$1"' sh "$pwtmp"
  local rc=0
  as_server "$PGBIN/initdb" -D "$pgdata" -E UTF8 --locale="$locale" -U "$SUPERUSER" \
    --pwfile="$pwtmp" --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
    --data-checksums --no-instructions >"$SERVER/initdb.log.tmp" 2>&1 || rc=$?
  rm -f "$pwtmp"
  if [ "$rc" -ne 0 ]; then
    cat "$SERVER/initdb.log.tmp" >&2 || true
    die "initdb failed (exit $rc)"
  fi
  rm -f "$SERVER/initdb.log.tmp"
}

write_server_conf() {
  local pgdata=$1 port=$2 conf
  conf="# Written by scripts/pg.sh at every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''          # TCP only
max_connections = 200
shared_buffers = 128MB
password_encryption = 'scram-sha-256'
fsync = on                            # durability is tested: keep the real thing
synchronous_commit = on
full_page_writes = on
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
# No patient data in the server log (docs/configuration.md): a failed statement is logged as its
# ERROR line alone, without DETAIL (Failing row contains (... phone, name ...)), HINT and
# CONTEXT, without the STATEMENT line and its literal values, and without bind parameters.
log_error_verbosity = terse
log_min_error_statement = panic
log_parameter_max_length_on_error = 0
log_parameter_max_length = 0
log_statement = 'none'
"
  printf '%s' "$conf" | as_server sh -c 'umask 077; cat >"$1"' sh "$pgdata/outcall.conf"
  if ! grep -q "^include_if_exists = 'outcall.conf'" "$pgdata/postgresql.conf"; then
    printf "\ninclude_if_exists = 'outcall.conf'\n" | as_server sh -c 'cat >>"$1"' sh "$pgdata/postgresql.conf"
  fi
}

cmd_start() {
  if external_database; then
    note "DATABASE_URL is set: using the external database, not starting a local cluster"
    return 0
  fi
  PGBIN=$(find_pg_bin)
  mkdir -p "$CLUSTER"
  exec 9>>"$CLUSTER/.lock"
  flock -w 120 9 || die "timed out waiting for another pg.sh on cluster '$NAME'"

  prepare_server_dir
  local pgdata port
  pgdata=$(pgdata_of "$SERVER")
  choose_server_user "$pgdata"

  if [ "$SERVER" = "$(readlink -f "$CLUSTER")/server" ]; then
    note "cluster '$NAME': data in $pgdata"
  else
    note "cluster '$NAME': data in $pgdata (outside the repository: user '$RUN_AS' cannot traverse $REPO)"
  fi

  if ! is_initialised "$SERVER"; then
    if [ -d "$pgdata" ]; then
      note "removing incomplete data dir $pgdata"
      rm -rf --one-file-system "$pgdata"
    fi
    note "initialising cluster '$NAME' (superuser $SUPERUSER, password in $PASSWORD_FILE)"
    do_initdb "$pgdata"
  fi
  [ -f "$PGPASS_FILE" ] && [ -f "$PASSWORD_FILE" ] ||
    die "cluster '$NAME' has data but its password files are missing; run 'scripts/pg.sh destroy $NAME' and start again"
  chmod 0600 "$PASSWORD_FILE" "$PGPASS_FILE"

  if server_running "$pgdata"; then
    port=$(recorded_port) || die "cluster '$NAME' is running but $PORT_FILE is missing"
    local_url "$port"
    return 0
  fi

  if port=$(recorded_port 2>/dev/null) && port_is_free "$port"; then
    :
  else
    local old=${port:-}
    port=$(pick_port)
    [ -n "$old" ] && note "port $old is busy; cluster '$NAME' moves to port $port"
    printf '%s\n' "$port" >"$PORT_FILE"
    chmod 0644 "$PORT_FILE"   # not a secret
  fi

  write_server_conf "$pgdata" "$port"
  local rc=0
  as_server "$PGBIN/pg_ctl" start -D "$pgdata" -l "$SERVER/postgres.log" -w -t 60 -s || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 20 "$SERVER/postgres.log" >&2 || true
    die "PostgreSQL did not start (pg_ctl exit $rc); log: $SERVER/postgres.log"
  fi

  local exists
  exists=$(psql_admin "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'") ||
    die "cannot connect to the new cluster on 127.0.0.1:$port"
  if [ "$exists" != 1 ]; then
    psql_admin "$port" -c "CREATE DATABASE $DBNAME ENCODING 'UTF8' TEMPLATE template0" ||
      die "could not create database $DBNAME"
  fi
  local_url "$port"
}

cmd_stop() {
  if [ ! -e "$SERVER_LINK" ]; then note "cluster '$NAME' not initialised"; return 0; fi
  PGBIN=$(find_pg_bin)
  SERVER=$(server_dir)
  local pgdata
  pgdata=$(pgdata_of "$SERVER")
  choose_server_user "$pgdata"
  if server_running "$pgdata"; then
    as_server "$PGBIN/pg_ctl" stop -D "$pgdata" -m fast -w -t 60 -s ||
      die "pg_ctl stop failed; log: $SERVER/postgres.log"
    note "cluster '$NAME' stopped"
  else
    note "cluster '$NAME' is not running"
  fi
}

cmd_crash() {
  [ -e "$SERVER_LINK" ] || die "cluster '$NAME' not initialised"
  PGBIN=$(find_pg_bin)
  SERVER=$(server_dir)
  local pgdata
  pgdata=$(pgdata_of "$SERVER")
  choose_server_user "$pgdata"
  server_running "$pgdata" || die "cluster '$NAME' is not running"
  as_server "$PGBIN/pg_ctl" stop -D "$pgdata" -m immediate -w -t 60 -s ||
    die "pg_ctl stop -m immediate failed; log: $SERVER/postgres.log"
}

cmd_log() {
  [ -e "$SERVER_LINK" ] || die "cluster '$NAME' not initialised"
  echo "$(server_dir)/postgres.log"
}

cmd_status() {
  local port="?" pgdata="(none)" state="not initialised" rc=3
  if [ -e "$SERVER_LINK" ] || [ -L "$SERVER_LINK" ]; then
    PGBIN=$(find_pg_bin)
    SERVER=$(server_dir)
    pgdata=$(pgdata_of "$SERVER")
    port=$(recorded_port 2>/dev/null) || port="?"
    if is_initialised "$SERVER"; then
      choose_server_user "$pgdata"
      if server_running "$pgdata"; then
        state="running (pid $(head -n 1 "$pgdata/postmaster.pid"))"
        rc=0
      else
        state="stopped"
      fi
    fi
  fi
  echo "cluster:  $NAME"
  echo "state:    $state"
  echo "port:     $port"
  echo "data dir: $pgdata"
  if external_database; then echo "note:     DATABASE_URL is set to an external database"; fi
  return $rc
}

cmd_url() {
  local port
  port=$(recorded_port 2>/dev/null) || die "cluster '$NAME' not initialised: run scripts/pg.sh start $NAME"
  local_url "$port"
}

cmd_env() {
  if external_database; then
    echo "# pg.sh: DATABASE_URL is already set (external database); environment left unchanged"
    return 0
  fi
  local port
  port=$(recorded_port 2>/dev/null) || die "cluster '$NAME' not initialised: run scripts/pg.sh start $NAME"
  [ -r "$PGPASS_FILE" ] || die "$PGPASS_FILE is not readable by $(id -un)"
  printf 'export DATABASE_URL=%q\n' "$(local_url "$port")"
  printf 'export PGPASSFILE=%q\n' "$PGPASS_FILE"
}

cmd_destroy() {
  [ -e "$CLUSTER" ] || [ -L "$CLUSTER" ] || { note "cluster '$NAME' does not exist"; return 0; }
  cmd_stop
  local target=""
  if [ -L "$SERVER_LINK" ]; then
    target=$(readlink -f "$SERVER_LINK" || true)
    case "$target" in
      "$EXTERNAL_ROOT"/*) rm -rf --one-file-system "$target" ;;
      *) note "not deleting unexpected symlink target $target" ;;
    esac
  fi
  rm -rf --one-file-system "$CLUSTER"
  note "cluster '$NAME' deleted"
}

ensure_gitignore() {
  local gi=$REPO/.gitignore line
  for line in ".local/" "build/"; do
    if [ ! -f "$gi" ] || ! grep -qxF "$line" "$gi"; then
      if [ -s "$gi" ] && [ -n "$(tail -c 1 "$gi")" ]; then echo >>"$gi"; fi
      echo "$line" >>"$gi"
    fi
  done
}

case "$CMD" in
  start) ensure_gitignore; cmd_start ;;
  stop) cmd_stop ;;
  crash) cmd_crash ;;
  log) cmd_log ;;
  status) cmd_status ;;
  url) cmd_url ;;
  env) cmd_env ;;
  destroy) cmd_destroy ;;
  *) usage ;;
esac

#!/usr/bin/env bash
# sriovd's HTTP API fuzzed from its own document: schemathesis (PyPI) generates requests from
# Docs/openapi.yaml and sends them to `sriovd --simulated` over TCP with a bearer token, checking every
# answer against the document (no 5xx; status codes, content types, headers and bodies as documented;
# 405 with Allow for undocumented methods) and following the document's links for stateful sequences
# (acquire -> show -> renew -> release). Two runs: an admin token (every operation), then a tenant
# token limited to pool uplink (admin routes must answer 403 as documented).
#
#   bash Tests/API/schemathesis.sh            # after `swift build` (uses .build/debug/sriovd)
#
# Environment: SRIOV_BIN_DIR (where sriovd is; default .build/debug), SCHEMATHESIS_MAX_TIME (seconds for
# the admin run, default 150; the tenant run gets a third of it), SCHEMATHESIS_SEED (to replay a run),
# SCHEMATHESIS_PYTHON (the Python the venv is made with; default python3).
# Installs schemathesis into a venv under .build/ the first time. Exits non-zero on any failure; the
# reports (JUnit, NDJSON) and the daemon's log are left in the work directory it prints.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
version=4.32.5
venv=$root/.build/schemathesis-venv
bin=${SRIOV_BIN_DIR:-$root/.build/debug}
budget=${SCHEMATHESIS_MAX_TIME:-150}
seed=${SCHEMATHESIS_SEED:-$RANDOM}

[[ -x $bin/sriovd ]] || { echo "schemathesis.sh: $bin/sriovd not found; run swift build first" >&2; exit 1; }
python=${SCHEMATHESIS_PYTHON:-python3}
if ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version $version"; then
  echo "== installing schemathesis $version into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

work=$(mktemp -d /tmp/sriovd-schemathesis.XXXXXX)
daemon=
stop_daemon() {
  if [[ -n $daemon ]] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon" && wait "$daemon" || true
  fi
  daemon=
}
trap stop_daemon EXIT

# Two tokens, stored hashed as sriovd reads them (Docs/Configuration.md, "Tokens").
admin_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
tenant_token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
printf 'fuzz-admin sha256:%s\nfuzz-tenant sha256:%s\n' "$(hash "$admin_token")" "$(hash "$tenant_token")" > "$work/tokens"
chmod 600 "$work/tokens"
{
  cat Config/sriovd.yaml
  cat <<EOF

access:
  listen_tcp: "127.0.0.1:0"
  tokens_file: $work/tokens
  tenants:
    - name: fuzz-admin
      tokens: [fuzz-admin]
      pools: ["*"]
      rights: [admin]
    - name: fuzz-tenant
      tokens: [fuzz-tenant]
      pools: [uplink]
      max_leases: 6
EOF
} > "$work/sriovd.yaml"

"$bin/sriovd" --simulated --state-dir "$work/state" --socket "$work/sriovd.sock" --config "$work/sriovd.yaml" \
  --log-level info > "$work/sriovd.log" 2>&1 &
daemon=$!
port=
for _ in $(seq 1 300); do
  port=$(grep -m1 ' ready' "$work/sriovd.log" | grep -oE 'tcp=[0-9]+' | cut -d= -f2 || true)
  [[ -n $port ]] && break
  kill -0 "$daemon" 2>/dev/null || { cat "$work/sriovd.log" >&2; echo "schemathesis.sh: sriovd exited" >&2; exit 1; }
  sleep 0.2
done
[[ -n $port ]] || { cat "$work/sriovd.log" >&2; echo "schemathesis.sh: sriovd did not get ready" >&2; exit 1; }
echo "== sriovd --simulated on 127.0.0.1:$port (work directory $work, seed $seed)"

# One schemathesis run; prints its summary and how many test cases it sent.
fuzz() {
  local name=$1 token=$2 max_time=$3
  local started=$SECONDS status=0
  echo "== schemathesis $version: $name token, up to ${max_time}s"
  "$venv/bin/st" --config-file Tests/API/schemathesis.toml --no-color run Docs/openapi.yaml \
    --url "http://127.0.0.1:$port" -H "Authorization: Bearer $token" \
    --max-time "$max_time" --seed "$seed" \
    --report junit,ndjson --report-dir "$work/report-$name" > "$work/st-$name.log" 2>&1 || status=$?
  # The summary, without the per-operation progress lines.
  sed -n '/^=* *SUMMARY/,$p' "$work/st-$name.log"
  if ((status != 0)); then
    sed -n '/^=* *\(FAILURES\|ERRORS\)/,/^=* *SUMMARY/p' "$work/st-$name.log" | head -300
  fi
  local cases
  cases=$(grep -A1 '^Test cases:' "$work/st-$name.log" | grep -oE '[0-9]+ generated' | cut -d' ' -f1 || true)
  total_cases=$((total_cases + ${cases:-0}))
  echo "== $name run: exit $status, ${cases:-?} test cases, $((SECONDS - started))s"
  return "$status"
}

failed=0
total_cases=0
fuzz admin "$admin_token" "$budget" || failed=1
fuzz tenant "$tenant_token" "$((budget / 3))" || failed=1

kill -0 "$daemon" 2>/dev/null || { echo "schemathesis.sh: sriovd died during the run" >&2; failed=1; }
stop_daemon
if grep -q '"internal"\|unexpected error' "$work/sriovd.log"; then
  echo "schemathesis.sh: sriovd logged unexpected errors:" >&2
  grep '"internal"\|unexpected error' "$work/sriovd.log" | head -20 >&2
  failed=1
fi
if ((failed)); then
  echo "schemathesis: FAILED after $total_cases test cases (reports and sriovd.log in $work)" >&2
  exit 1
fi
echo "schemathesis: $total_cases test cases, no failures (reports in $work)"

#!/usr/bin/env bash
# Builds sriov-fuzz with libFuzzer (-sanitize=fuzzer -DSRIOV_FUZZ, its own scratch path .build-fuzz) and
# fuzzes each target for a while; Docs/Testing.md ("Fuzzing") says what each target checks.
#
#   Fuzz/run.sh [--seconds N] [--smoke] [--debug] [target...]
#
#   --seconds N  per target (default 300: the long run)
#   --smoke      20 s per target with a fixed seed (-seed=1): what .ci/run does
#   --debug      a debug build (builds ~2x faster, runs ~6x slower)
#   target...    journal statedir snapshot leasebook record config netlink uevent bodies addresses (default: all)
#
# Each target starts from Fuzz/corpus/<target> plus what earlier runs found (.build-fuzz/runs/<target>/corpus,
# not committed). Prints executions per target; a crash, timeout or failed property is saved under
# .build-fuzz/runs/<target>/artifacts/ and the script exits 1. Reproduce one with
#   SRIOV_FUZZ_TARGET=<target> .build-fuzz/release/sriov-fuzz <artifact>
# and, once fixed, copy it to Fuzz/corpus/<target>/regress-<what>: the normal build replays the corpus
# (.build/debug/sriov-fuzz Fuzz/corpus) in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=300
config=release
seed=()
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --smoke) seconds=20; seed=(-seed=1); shift ;;
    --debug) config=debug; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 64 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  for d in Fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi
for t in "${targets[@]}"; do
  [[ -d Fuzz/corpus/$t ]] || { echo "run.sh: no target $t (no Fuzz/corpus/$t)" >&2; exit 64; }
done

# libFuzzer ships with the Swift toolchain's clang (no Debian package needed): check that it is there.
swift_bin="$(dirname "$(readlink -f "$(command -v swift)")")"
if ! compgen -G "$swift_bin/../lib/clang/*/lib/linux/libclang_rt.fuzzer-$(uname -m).a" >/dev/null; then
  echo "run.sh: this Swift toolchain ($swift_bin) has no libclang_rt.fuzzer; -sanitize=fuzzer needs a Linux toolchain from swift.org" >&2
  exit 69
fi

echo "== sriov-fuzz: building ($config, -sanitize=fuzzer) into .build-fuzz"
start=$(date +%s)
nice swift build -c "$config" --product sriov-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DSRIOV_FUZZ
echo "build: $(($(date +%s) - start)) s"
bin=".build-fuzz/$config/sriov-fuzz"

failed=0
passed=0
summary=()
for t in "${targets[@]}"; do
  work=".build-fuzz/runs/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/last.log"
  echo "== fuzz $t (${seconds} s)"
  set +e
  # libFuzzer adds what it finds to the first directory; the committed seeds are only read.
  SWIFT_BACKTRACE=enable=no SRIOV_FUZZ_TARGET="$t" nice "$bin" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${seed[@]}" \
    -artifact_prefix="$work/artifacts/" "$work/corpus" "Fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  units=$(find "$work/corpus" -type f | wc -l)
  if ((rc == 0)); then
    passed=$((passed + 1))
    result=ok
  else
    failed=$((failed + 1))
    result="FAILED (exit $rc)"
    grep -E 'sriov-fuzz|Fatal error|ERROR: libFuzzer|SUMMARY|Test unit written|out-of-memory|timeout' "$log" | head -20 || true
    echo "   full log: $log"
  fi
  line=$(printf '%-10s %10s executions %7s/s  coverage %5s  corpus %5s  %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$units" "$result")
  echo "$line"
  summary+=("$line")
done

echo "== fuzz summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
echo "fuzz: $passed passed, $failed failed"
((failed == 0))

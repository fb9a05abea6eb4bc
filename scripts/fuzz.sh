#!/usr/bin/env bash
# Fuzzing (issue #6, hostile input): builds the cargo-fuzz targets in fuzz/ and runs each for SECONDS
# (default 40) over a copy of its committed corpus (fuzz/corpus/<target>), with memory bounded
# (-rss_limit_mb) and a per-input timeout. Prints each target's executions (libFuzzer's final stats)
# and a summary; a crash, out-of-memory or timeout fails the script, and its output names the crash
# artifact (kept in fuzz/artifacts/<target>/) and prints it in base64.
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_TARGETS="reference manifest"  only these targets
#   FUZZ_SEED=N                        libFuzzer's -seed (default 0: a new random seed each run; CI
#                                      passes a fixed one so that its runs explore the same inputs)
#   FUZZ_SANITIZER=address             build with AddressSanitizer (default none: faster to build and
#                                      run, and -rss_limit_mb then bounds the library's own memory)
#
# Only the stable toolchain is needed: cargo-fuzz passes nightly-only flags (-Z...), which
# RUSTC_BOOTSTRAP=1 lets the stable compiler accept. cargo-fuzz is installed when missing; under CI=true
# a failed install fails the script, elsewhere fuzzing is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

seconds="${1:-40}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac
read -r -a targets <<<"${FUZZ_TARGETS:-reference index_json manifest archive_import www_authenticate token_response}"
sanitizer="${FUZZ_SANITIZER:-none}"
rss_limit_mb=512
timeout_s=30
target_dir="${FUZZ_TARGET_DIR:-$root/fuzz/target}"

# The longest input per target: a name is short; index.json and manifests a few KiB; archives hold
# whole small layouts (the seeds are exports of fixtures, up to 13 KiB).
max_len() {
  case "$1" in
    reference) echo 1024 ;;
    index_json | manifest) echo 32768 ;;
    archive_import) echo 65536 ;;
    www_authenticate | token_response) echo 4096 ;;
    *) echo 4096 ;;
  esac
}

export RUSTC_BOOTSTRAP=1
start=$SECONDS

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is not installed; installing it (cargo install cargo-fuzz --locked)"
  if ! cargo install cargo-fuzz --locked; then
    if [ "${CI:-}" = true ]; then
      echo "fuzz: FAILED: cargo-fuzz could not be installed" >&2
      exit 1
    fi
    echo "fuzz: SKIPPED: cargo-fuzz could not be installed" >&2
    exit 0
  fi
  # Installed under --root or CARGO_INSTALL_ROOT: make sure cargo finds it.
  if ! cargo fuzz --version >/dev/null 2>&1 && [ -n "${CARGO_INSTALL_ROOT:-}" ]; then
    export PATH="$CARGO_INSTALL_ROOT/bin:$PATH"
  fi
fi
echo "fuzz: $(cargo fuzz --version), $(rustc --version), sanitizer $sanitizer"

build_start=$SECONDS
cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir"
echo "fuzz: built in $((SECONDS - build_start)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

total=0
passed=0
failed=()
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus"
  if [ -d "fuzz/corpus/$t" ]; then
    cp -R "fuzz/corpus/$t/." "$corpus/"
  fi
  artifacts="$root/fuzz/artifacts/$t/"
  mkdir -p "$artifacts"
  log="$work/$t.log"
  run_start=$SECONDS
  touch "$work/$t.start"
  status=0
  cargo fuzz run --sanitizer "$sanitizer" --target-dir "$target_dir" "$t" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb="$rss_limit_mb" -seed="${FUZZ_SEED:-0}" \
    -max_len="$(max_len "$t")" -timeout="$timeout_s" -print_final_stats=1 \
    -artifact_prefix="$artifacts" >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
  units="$(find "$corpus" -type f | wc -l)"
  total=$((total + ${execs:-0}))
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    echo "fuzz: $t: ok: ${execs:-?} executions in $((SECONDS - run_start)) s (${rate:-?}/s)," \
      "peak RSS ${rss:-?} MB, corpus $units inputs"
  else
    failed+=("$t")
    echo "fuzz: $t: FAILED (exit $status) after ${execs:-?} executions; the end of its log:"
    tail -n 80 "$log"
    find "$artifacts" -type f -newer "$work/$t.start" | while read -r a; do
      echo "fuzz: $t: artifact $a ($(wc -c <"$a") bytes); reproduce with:"
      echo "  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer $t $a"
      if [ "$(wc -c <"$a")" -le 262144 ]; then
        echo "fuzz: $t: artifact in base64:"
        base64 -w0 "$a"
        echo
      fi
    done
  fi
done

echo "fuzz: ${#targets[@]} targets, $total executions in all, $((SECONDS - start)) s with install and build"
echo "fuzz: $passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]

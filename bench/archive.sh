#!/usr/bin/env bash
# Benchmark (issue #5): `ocilayout export`/`import` of about 1 GiB against `tar cf`/`tar xf` of the
# same blobs on the same disk. Prints a table with ratios.
#
#   bench/archive.sh [MiB] [WORKDIR]      (default 1024 MiB in a temp dir beside the target dir)
#
# Each figure is the best of RUNS (default 3) runs, each after a `sync`, with warm caches. Import is
# compared with `tar xf` alone and with `tar xf && sync`, because our import fsyncs every blob
# before naming it (docs/store.md) and `tar xf` fsyncs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
WORK=${2:-$(mktemp -d "${CARGO_TARGET_DIR%/}/bench-archive.XXXXXX")}
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet
BIN=$CARGO_TARGET_DIR/release/ocilayout
OCILAYOUT_BENCH_DIR=$WORK/src OCILAYOUT_BENCH_MIB=$MIB \
  cargo test --release --quiet --test tests -- --ignored --exact archive::make_random_layout >/dev/null

now() { date +%s.%N; }
# Best of $RUNS: `prepare` runs untimed before each run (removing the previous output, then sync).
RUNS=${RUNS:-3}
best_of() {
  local prepare=$1; shift
  local best="" t0 t
  for _ in $(seq "$RUNS"); do
    eval "$prepare"; sync
    t0=$(now); "$@" >/dev/null; t=$(echo "$(now) - $t0" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}

T_TAR_C=$(best_of 'rm -f "$WORK/plain.tar"' tar cf "$WORK/plain.tar" -C "$WORK/src" oci-layout index.json blobs)
T_OUR_E=$(best_of 'rm -f "$WORK/ours.tar"' "$BIN" -q export "$WORK/src" "$WORK/ours.tar")
T_TAR_X=$(best_of 'rm -rf "$WORK/tar-x"; mkdir "$WORK/tar-x"' tar xf "$WORK/plain.tar" -C "$WORK/tar-x")
T_TAR_XS=$(best_of 'rm -rf "$WORK/tar-x"; mkdir "$WORK/tar-x"' sh -c 'tar xf "$1" -C "$2" && sync' - "$WORK/plain.tar" "$WORK/tar-x")
T_OUR_I=$(best_of 'rm -rf "$WORK/our-x"' "$BIN" -q import "$WORK/ours.tar" "$WORK/our-x")
"$BIN" -q fsck "$WORK/our-x"

SIZE=$(du -sm "$WORK/src/blobs" | cut -f1)
ratio() { echo "scale=2; $1 / $2" | bc; }
printf '%-28s %10s %10s %8s\n' "($SIZE MiB of blobs)" "ocilayout" "tar" "ratio"
printf '%-28s %9.2fs %9.2fs %7sx\n' "export vs tar cf" "$T_OUR_E" "$T_TAR_C" "$(ratio "$T_OUR_E" "$T_TAR_C")"
printf '%-28s %9.2fs %9.2fs %7sx\n' "import vs tar xf" "$T_OUR_I" "$T_TAR_X" "$(ratio "$T_OUR_I" "$T_TAR_X")"
printf '%-28s %9.2fs %9.2fs %7sx\n' "import vs tar xf + sync" "$T_OUR_I" "$T_TAR_XS" "$(ratio "$T_OUR_I" "$T_TAR_XS")"

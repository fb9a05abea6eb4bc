#!/usr/bin/env bash
# Benchmarks of the layout core (issue #2 item 6), each side by side with its peer on the same data:
#   1. resolve a tag in a 100,000-entry index.json: `ocilayout resolve DIR TAG` vs
#      `skopeo inspect --raw oci:DIR:TAG`            goal: < 100 ms and <= 0.5x skopeo
#   2. gc of a 25,000-blob layout (5,000 images x manifest+config+3 layers) with half its entries
#      removed: `ocilayout gc` vs `umoci gc`, each on a fresh `cp -a` copy, side by side in each
#      round with the order alternating, `sync` before each timed run   goal: <= 0.5x umoci
# Usage: bench/layout.sh [RUNS]   (needs python3, skopeo, umoci; uses hyperfine when present for
# resolve; RUNS >= 4 for gc's median)
# The data lives in $BENCH_DIR, by default /dev/shm (tmpfs): on a shared VM disk, unlink and page-cache
# writeback make gc times swing 1-6 s from run to run for both tools, which measures the neighbours,
# not the tools. BENCH_DIR=/tmp bench/layout.sh runs the same on disk. Times are medians.
set -euo pipefail

RUNS=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/ocilayout
[[ $BIN = /* ]] || BIN=$ROOT/$BIN
for t in python3 skopeo umoci; do
    command -v "$t" >/dev/null || { echo "bench: $t is required" >&2; exit 2; }
done

if [[ -z ${BENCH_DIR:-} ]]; then
    if [[ -d /dev/shm && -w /dev/shm ]]; then BENCH_DIR=/dev/shm; else BENCH_DIR=${TMPDIR:-/tmp}; fi
fi
WORK=$(mktemp -d "$BENCH_DIR/ocilayout-bench.XXXXXX")
echo "bench: data in $WORK ($(df --output=fstype "$WORK" | tail -1)), $RUNS runs each" >&2
trap 'rm -rf "$WORK"' EXIT

# ---- data -------------------------------------------------------------------------------------
# 1. 100,000 entries over the umoci fixture's two real manifests; containerd-style names with unique
#    tags; the target is the last entry (a linear scan's worst case, for both tools).
BIG=$WORK/big
mkdir -p "$BIG"
cp -a fixtures/umoci/oci-layout fixtures/umoci/blobs "$BIG/"
python3 - "$BIG" <<'EOF'
import json, sys
d1 = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290", "size": 345}
d2 = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:fe406964010afe2356f3e5b531e5037f420d4e672132e9125bb6665dddf644fe", "size": 499}
entries = []
for i in range(99_999):
    e = dict(d1 if i % 2 else d2)
    e["annotations"] = {"io.containerd.image.name": f"registry.example/team{i % 100}/app{i}:v{i}",
                        "org.opencontainers.image.ref.name": f"v{i}"}
    entries.append(e)
t = dict(d2)
t["annotations"] = {"io.containerd.image.name": "docker.io/library/bench:target",
                    "org.opencontainers.image.ref.name": "target"}
entries.append(t)
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
with open(sys.argv[1] + "/index.json", "w") as f:
    json.dump(index, f, separators=(",", ":"))
EOF

# 2. 5,000 images x 5 blobs = 25,000 blobs of tiny random content; every other entry dropped.
GC=$WORK/gc-src
mkdir -p "$GC/blobs/sha256"
python3 - "$GC" <<'EOF'
import hashlib, json, os, sys
root = sys.argv[1]
def put(b):
    h = hashlib.sha256(b).hexdigest()
    with open(f"{root}/blobs/sha256/{h}", "wb") as f:
        f.write(b)
    return {"digest": "sha256:" + h, "size": len(b)}
entries = []
for i in range(5000):
    layers = [dict(put(os.urandom(64)), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")
              for _ in range(3)]
    config = dict(put(json.dumps({"architecture": "amd64", "os": "linux", "n": i}).encode()),
                  mediaType="application/vnd.oci.image.config.v1+json")
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config, "layers": layers}).encode()
    e = dict(put(m), mediaType="application/vnd.oci.image.manifest.v1+json")
    e["annotations"] = {"io.containerd.image.name": f"docker.io/bench/img{i}:1",
                        "org.opencontainers.image.ref.name": "1"}
    if i % 2 == 0:
        entries.append(e)
with open(f"{root}/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": entries}, f)
with open(f"{root}/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
EOF

# Sanity: both sides agree before anything is timed.
want=sha256:fe406964010afe2356f3e5b531e5037f420d4e672132e9125bb6665dddf644fe
[[ $("$BIN" resolve "$BIG" target) = "$want" ]] || { echo "bench: ocilayout resolved wrong" >&2; exit 1; }
[[ "sha256:$(skopeo inspect --raw "oci:$BIG:target" | sha256sum | cut -d' ' -f1)" = "$want" ]] \
    || { echo "bench: skopeo resolved wrong" >&2; exit 1; }
rm -rf "$WORK/a" "$WORK/b"; cp -a "$GC" "$WORK/a"; cp -a "$GC" "$WORK/b"
"$BIN" -q gc "$WORK/a"; umoci gc --layout "$WORK/b"
[[ $(ls "$WORK/a/blobs/sha256" | wc -l) = 12500 ]] || { echo "bench: ocilayout gc kept the wrong blobs" >&2; exit 1; }
diff -q <(ls "$WORK/a/blobs/sha256") <(ls "$WORK/b/blobs/sha256") >/dev/null \
    || { echo "bench: ocilayout gc and umoci gc disagree" >&2; exit 1; }

# ---- timing -----------------------------------------------------------------------------------
# median_ms NAME PREPARE COMMAND: median wall time in ms over $RUNS runs, PREPARE (untimed) before
# each.
median_ms() {
    local name=$1 prepare=$2 cmd=$3
    if command -v hyperfine >/dev/null; then
        hyperfine -N --style none --warmup 1 --runs "$RUNS" --prepare "$prepare" \
            --export-json "$WORK/$name.json" "$cmd" >/dev/null 2>&1 \
            || hyperfine --style none --warmup 1 --runs "$RUNS" --prepare "$prepare" \
                --export-json "$WORK/$name.json" "$cmd" >/dev/null
        python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' \
            "$WORK/$name.json"
    else
        local times=() start end
        for _ in $(seq "$RUNS"); do
            bash -c "$prepare"
            start=$(date +%s%N); bash -c "$cmd" >/dev/null; end=$(date +%s%N)
            times+=($((end - start)))
        done
        python3 -c 'import statistics,sys; print("%.1f" % (statistics.median(map(int, sys.argv[1:])) / 1e6))' \
            "${times[@]}"
    fi
}

noop=true
fresh() { echo "rm -rf $WORK/gc && cp -a $GC $WORK/gc"; }
r_ours=$(median_ms resolve-ours "$noop" "$BIN resolve $BIG target")
r_peer=$(median_ms resolve-skopeo "$noop" "skopeo inspect --raw oci:$BIG:target")
# gc: both tools in every round, the order alternating, the disk flushed before each timed run (so
# neither pays the other's writeback); the median of each side's runs.
gc_ms() {
    rm -rf "$WORK/gc" && cp -a "$GC" "$WORK/gc" && sync
    local start end
    start=$(date +%s%N)
    if [[ $1 = ours ]]; then "$BIN" -q gc "$WORK/gc" >/dev/null; else umoci gc --layout "$WORK/gc"; fi
    end=$(date +%s%N)
    echo $(((end - start) / 1000))
}
ours_us=() peer_us=()
for round in $(seq "$RUNS"); do
    if ((round % 2)); then
        ours_us+=("$(gc_ms ours)"); peer_us+=("$(gc_ms umoci)")
    else
        peer_us+=("$(gc_ms umoci)"); ours_us+=("$(gc_ms ours)")
    fi
done
echo "bench: gc ocilayout us: ${ours_us[*]}" >&2
echo "bench: gc umoci us:     ${peer_us[*]}" >&2
median_of() { python3 -c 'import statistics,sys; print("%.1f" % (statistics.median(map(int, sys.argv[1:])) / 1e3))' "$@"; }
g_ours=$(median_of "${ours_us[@]}")
g_peer=$(median_of "${peer_us[@]}")

python3 - "$r_ours" "$r_peer" "$g_ours" "$g_peer" <<'EOF'
import sys
r_ours, r_peer, g_ours, g_peer = map(float, sys.argv[1:])
rows = [
    ("resolve tag, 100,000-entry index.json", "skopeo inspect --raw", r_ours, r_peer, 0.5,
     r_ours < 100 and r_ours <= 0.5 * r_peer, "< 100 ms, <= 0.5x"),
    ("gc, 25,000 blobs, half untagged", "umoci gc", g_ours, g_peer, 0.5,
     g_ours <= 0.5 * g_peer, "<= 0.5x"),
]
print(f"{'benchmark (median wall time)':40} {'peer':22} {'ours ms':>9} {'peer ms':>9} {'ratio':>6}  {'goal':18} ok")
for name, peer, ours, theirs, _, ok, goal in rows:
    print(f"{name:40} {peer:22} {ours:9.1f} {theirs:9.1f} {ours / theirs:6.2f}  {goal:18} {'yes' if ok else 'NO'}")
sys.exit(0 if all(r[5] for r in rows) else 1)
EOF

#!/usr/bin/env bash
# bench/serve.sh: `ocilayout serve` against docker-registry, side by side in one run, same images, same
# machine (issue 14).
#
#   1. pull: 8 images of 64 MiB (512 MiB of incompressible layers) to skopeo and to `ocilayout pull`,
#      from serve and from docker-registry holding the same bytes (pushed into it by `ocilayout push`);
#   2. manifest GET requests per second with wrk at 64 connections, both servers;
#   3. peak RSS of both servers over the whole run (VmHWM).
#
# Usage: bench/serve.sh [WORKDIR]   (needs skopeo, docker-registry, wrk, python3; builds --release)
# Environment: IMAGES (8), IMAGE_MIB (64), RUNS (3: pull times are the median of RUNS runs),
#              WRK_SECONDS (10), CONNECTIONS (64), OL (the binary).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGES=${IMAGES:-8}
IMAGE_MIB=${IMAGE_MIB:-64}
RUNS=${RUNS:-3}
WRK_SECONDS=${WRK_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-64}
for tool in skopeo docker-registry wrk python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done

# OL=path/to/ocilayout uses that binary as it is; otherwise a release build of this tree.
if [ -z "${OL:-}" ]; then
  cargo build --release -q
  OL=$PWD/target/release/ocilayout
fi
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.2f}')" "$1" "$(now)"; }

# --- The layout: IMAGES images, each two layers of IMAGE_MIB/2 MiB of random bytes. ---------------
LAYOUT=$WORK/layout
if [ ! -f "$LAYOUT/oci-layout" ]; then
  "$OL" init "$LAYOUT" >/dev/null
  python3 - "$LAYOUT" "$IMAGES" "$IMAGE_MIB" <<'EOF'
import hashlib, json, os, sys
root, images, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs/sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d
entries = []
for i in range(1, images + 1):
    layers = []
    for _ in range(2):
        data = os.urandom(mib << 19)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": put(data), "size": len(data)})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": put(config), "size": len(config)},
                           "layers": layers}).encode()
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest),
                    "size": len(manifest),
                    "annotations": {"io.containerd.image.name": f"docker.io/bench/img{i}:1",
                                    "org.opencontainers.image.ref.name": "1"}})
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": entries}, f)
EOF
  "$OL" fsck "$LAYOUT" >/dev/null
fi

# --- The two servers. -------------------------------------------------------------------------------
SERVE_PORT=$(free_port)
"$OL" serve "$LAYOUT" --addr "127.0.0.1:$SERVE_PORT" -q &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
REG_PORT=$(free_port)
mkdir -p "$WORK/registry"
cat > "$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: 127.0.0.1:$REG_PORT
EOF
docker-registry serve "$WORK/registry/config.yml" >/dev/null 2>&1 &
REG_PID=$!
PIDS+=("$REG_PID")
for port in "$SERVE_PORT" "$REG_PORT"; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
done
for i in $(seq "$IMAGES"); do
  "$OL" push -q --plain-http "$LAYOUT" "bench/img$i:1" "127.0.0.1:$REG_PORT/bench/img$i:1"
done

echo "# $IMAGES images x $IMAGE_MIB MiB; $(nproc) cores; $(date -u +%FT%TZ)"
echo "| measurement | ocilayout serve | docker-registry |"
echo "|---|---|---|"

# --- 1. Pulls: skopeo (each image) and ocilayout pull (all at once), cold destination each time. ------
skopeo_all() {
  local port=$1 dest=$WORK/skopeo-$1
  rm -rf "$dest"
  local t; t=$(now)
  for i in $(seq "$IMAGES"); do
    skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/bench/img$i:1" "oci:$dest:img$i"
  done
  since "$t"
}
ol_pull() {
  local port=$1 dest=$WORK/pull-$1 refs=()
  rm -rf "$dest"
  for i in $(seq "$IMAGES"); do refs+=("127.0.0.1:$port/bench/img$i:1"); done
  local t; t=$(now)
  "$OL" pull -q --plain-http "${refs[@]}" "$dest"
  since "$t"
}
# The median of RUNS runs, the two servers alternating so that a noisy moment hits both alike.
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
pulls() {
  local fn=$1 ours=() theirs=()
  for _ in $(seq "$RUNS"); do
    ours+=("$("$fn" "$SERVE_PORT")")
    theirs+=("$("$fn" "$REG_PORT")")
  done
  echo "$(median "${ours[@]}") (runs ${ours[*]}) | $(median "${theirs[@]}") (runs ${theirs[*]})"
}
# One warm-up pass each, so both read from the page cache.
skopeo_all "$SERVE_PORT" >/dev/null; skopeo_all "$REG_PORT" >/dev/null
echo "| skopeo copy, $IMAGES images (s, median of $RUNS) | $(pulls skopeo_all) |"
echo "| ocilayout pull, $IMAGES images (s, median of $RUNS) | $(pulls ol_pull) |"
rm -rf "$WORK"/skopeo-* "$WORK"/pull-*

# --- 2. Manifest GETs per second at CONNECTIONS connections. -----------------------------------------
rps() {
  wrk -t2 -c"$CONNECTIONS" -d"${WRK_SECONDS}s" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://127.0.0.1:$1/v2/bench/img1/manifests/1" | awk '/Requests\/sec/ {printf "%.0f", $2}'
}
echo "| manifest GET req/s, wrk -c$CONNECTIONS ${WRK_SECONDS}s | $(rps "$SERVE_PORT") | $(rps "$REG_PORT") |"

# --- 3. Peak RSS of serve over everything above. ----------------------------------------------------
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
echo "| peak RSS over the run (MB) | $(hwm "$SERVE_PID") | $(hwm "$REG_PID") |"

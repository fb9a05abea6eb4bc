#!/usr/bin/env bash
# bench/serve.sh: `ocilayout serve` against docker-registry, side by side in one run, same images, same
# machine (issue 14).
#
#   1. pull: 8 images of 64 MiB (512 MiB of incompressible layers) to skopeo and to `ocilayout pull`,
#      from serve and from docker-registry holding the same bytes (pushed into it by `ocilayout push`);
#   2. manifest GET requests per second with wrk at 64 connections, both servers;
#   3. peak RSS of both servers over the whole run (VmHWM);
#   4. abuse (issue 18): a second serve with --push and --htpasswd; skopeo copies the images with
#      credentials, once quiet and once while hostile clients from other loopback addresses run:
#      300 connections that never read, a flood of upload sessions, eight loops of wrong passwords
#      and 160 one-byte ranges of blobs not yet verified. Reports both times and serve's RSS.
#
# Usage: bench/serve.sh [WORKDIR]   (needs skopeo, docker-registry, wrk, htpasswd, python3; builds
#        --release)
# Environment: IMAGES (8), IMAGE_MIB (64), RUNS (3: pull times are the median of RUNS runs),
#              WRK_SECONDS (10), CONNECTIONS (64), OL (the binary).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGES=${IMAGES:-8}
IMAGE_MIB=${IMAGE_MIB:-64}
RUNS=${RUNS:-3}
WRK_SECONDS=${WRK_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-64}
for tool in skopeo docker-registry wrk htpasswd python3; do
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

# --- 4. Abuse: a normal client's time and serve's memory while hostile clients run. -----------------
htpasswd -B -b -c -C 10 "$WORK/htpasswd" alice a-pass 2>/dev/null
htpasswd -B -b -C 10 "$WORK/htpasswd" mallory m-pass 2>/dev/null
# A fresh server for each of the two runs, so both pay for verifying every blob once (the page cache
# is warm from the runs above).
start_abuse_server() {
  ABUSE_PORT=$(free_port)
  "$OL" serve "$LAYOUT" --addr "127.0.0.1:$ABUSE_PORT" --push --htpasswd "$WORK/htpasswd" -q &
  ABUSE_PID=$!
  PIDS+=("$ABUSE_PID")
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$ABUSE_PORT/v2/" >/dev/null && break; sleep 0.1; done
}
skopeo_auth() {
  local dest=$WORK/skopeo-auth
  rm -rf "$dest"
  local t; t=$(now)
  for i in $(seq "$IMAGES"); do
    skopeo copy -q --src-tls-verify=false --src-creds alice:a-pass \
      "docker://127.0.0.1:$ABUSE_PORT/bench/img$i:1" "oci:$dest:img$i"
  done
  since "$t"
}
start_abuse_server
QUIET=$(skopeo_auth)
kill "$ABUSE_PID"
start_abuse_server
python3 - "$ABUSE_PORT" "$LAYOUT" > "$WORK/abuse.log" 2>&1 <<'EOF' &
import base64, json, os, socket, sys, threading, time
port, layout = int(sys.argv[1]), sys.argv[2]
def auth(u, p): return "Authorization: Basic " + base64.b64encode(f"{u}:{p}".encode()).decode() + "\r\n"
good = auth("mallory", "m-pass")
def conn(src):
    s = socket.socket(); s.bind((src, 0)); s.connect(("127.0.0.1", port)); return s
def ask(src, method, path, headers=""):
    try:
        s = conn(src); s.settimeout(10)
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n".encode())
        s.recv(64); s.close()
    except OSError:
        pass
index = json.load(open(os.path.join(layout, "index.json")))
layers = []
for e in index["manifests"]:
    m = json.load(open(os.path.join(layout, "blobs/sha256", e["digest"].split(":")[1])))
    layers += [l["digest"] for l in m["layers"]]
never = []
for i in range(300):  # clients that never read
    try:
        s = conn("127.0.0.2")
        s.sendall(f"GET /v2/bench/img1/blobs/{layers[i % len(layers)]} HTTP/1.1\r\nHost: x\r\n{good}\r\n".encode())
        never.append(s)
    except OSError:
        pass
def sessions():
    while True: ask("127.0.0.3", "POST", "/v2/bench/x/blobs/uploads/", good)
def passwords(i):
    while True: ask("127.0.0.4", "GET", "/v2/", auth("alice", f"guess{i}"))
def ranges(i):
    for j in range(20): ask("127.0.0.5", "GET", f"/v2/bench/img1/blobs/{layers[-1 - i]}", good + f"Range: bytes={j}-{j}\r\n")
threads = [threading.Thread(target=sessions, daemon=True)]
threads += [threading.Thread(target=passwords, args=(i,), daemon=True) for i in range(8)]
threads += [threading.Thread(target=ranges, args=(i,), daemon=True) for i in range(8)]
for t in threads: t.start()
print("hostile clients running", flush=True)
time.sleep(3600)
EOF
HOSTILE_PID=$!
PIDS+=("$HOSTILE_PID")
sleep 2
ABUSED=$(skopeo_auth)
RSS_ABUSED=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$ABUSE_PID/status")
kill "$HOSTILE_PID" 2>/dev/null || true
echo "| skopeo copy with credentials, $IMAGES images (s): quiet / under abuse | $QUIET / $ABUSED | |"
echo "| serve RSS under abuse / peak (MB) | $RSS_ABUSED / $(hwm "$ABUSE_PID") | |"

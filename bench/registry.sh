#!/usr/bin/env bash
# Registry benchmark: pull and push about 512 MiB (8 images x 8 layers of random bytes) to and from a
# loopback docker-registry, ocilayout against a loop of `skopeo copy` over the same data, and `dd`
# writing the same bytes; peak RSS from /usr/bin/time -v; then the same pull through a TCP proxy of our
# own that adds 20 ms to every request/response turn; and copies of the same images from one registry to
# another, `ocilayout copy` against `skopeo copy`. Prints a table with ratios.
#
# Usage: bench/registry.sh [WORKDIR]   (default: a fresh directory under /tmp; removed at the end
# unless KEEP=1). Needs docker-registry, skopeo, python3 and /usr/bin/time (package `time`).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /tmp/ocilayout-bench.XXXXXX)}
mkdir -p "$work"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
IMAGES=${IMAGES:-8}
JOBS=${JOBS:-8}
REPS=${REPS:-3}
BIG_MIB=${BIG_MIB:-1024}
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

for tool in docker-registry skopeo python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

echo "building release binary..." >&2
(cd "$here" && cargo build --release --quiet)
bin=$CARGO_TARGET_DIR/release/ocilayout

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry NAME: starts a registry with its storage under $work/NAME; sets $addr (host:port).
# Not in a subshell, so its pid is recorded for the cleanup.
start_registry() {
    local name=$1 port
    port=$(free_port)
    mkdir -p "$work/$name"
    cat >"$work/$name/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/$name/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
    docker-registry serve "$work/$name/config.yml" >"$work/$name/log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
        sleep 0.1
    done
    addr=127.0.0.1:$port
}

# The source layout: IMAGES images, each 64 MiB in 8 gzip (stored, level 0) layers of random bytes.
echo "generating $((IMAGES * 64)) MiB of images..." >&2
python3 - "$work/src" "$IMAGES" <<'EOF'
import hashlib, json, os, sys, zlib
root, n = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{root}/blobs/sha256", exist_ok=True)
def put(b):
    d = hashlib.sha256(b).hexdigest()
    with open(f"{root}/blobs/sha256/{d}", "wb") as f:
        f.write(b)
    return {"digest": f"sha256:{d}", "size": len(b)}
entries = []
for i in range(1, n + 1):
    layers = []
    for mib in (24, 16, 8, 4, 4, 4, 2, 2):
        c = zlib.compressobj(0, zlib.DEFLATED, 31)
        b = c.compress(os.urandom(mib << 20)) + c.flush()
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(b)})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
                           "layers": layers}).encode()
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(manifest),
                    "annotations": {"io.containerd.image.name": f"docker.io/bench/img{i}:1",
                                    "org.opencontainers.image.ref.name": f"img{i}"}})
json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries},
          open(f"{root}/index.json", "w"))
open(f"{root}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
total=$(du -sb "$work/src/blobs" | cut -f1)

# The latency proxy: forwards to $2 and sleeps 10 ms whenever the direction of traffic on a connection
# turns (client -> registry, registry -> client), so every request/response turn costs 20 ms more
# while bodies stream at full speed.
cat >"$work/proxy.py" <<'EOF'
import socket, sys, threading, time
listen_port, target = int(sys.argv[1]), sys.argv[2]
th, tp = target.rsplit(":", 1)
def pump(src, dst, me, state):
    try:
        while True:
            data = src.recv(1 << 20)
            if not data:
                break
            with state["lock"]:
                turned = state["last"] != me
                state["last"] = me
            if turned:
                time.sleep(0.010)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(128)
while True:
    c, _ = srv.accept()
    u = socket.create_connection((th, int(tp)))
    for s in (c, u):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    state = {"lock": threading.Lock(), "last": None}
    threading.Thread(target=pump, args=(c, u, "up", state), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, "down", state), daemon=True).start()
EOF

# case LABEL: runs `prep_LABEL` (if defined) and then the command line `cmd_LABEL` prints, REPS
# times; records the median wall time and the peak RSS (GNU time reports the largest process of the
# run, so for a skopeo loop the largest single copy) in $work/results.
run_case() {
    local label=$1 r times=() rss=0
    for r in $(seq "$REPS"); do
        if declare -F "prep_$label" >/dev/null; then "prep_$label" "$r"; fi
        "cmd_$label" "$r" >"$work/cmd.$label.sh"
        sync
        local start end
        start=$(date +%s.%N)
        /usr/bin/time -v -o "$work/time.$label" bash -e "$work/cmd.$label.sh" >"$work/out.$label" 2>&1 || {
            echo "FAILED: $label" >&2; cat "$work/out.$label" >&2; exit 1; }
        end=$(date +%s.%N)
        times+=("$(echo "$end - $start" | bc)")
        local m
        m=$(awk -F: '/Maximum resident/ {print $2}' "$work/time.$label")
        [ "$m" -gt "$rss" ] && rss=$m
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$label $median $((rss / 1024)) ${times[*]}" >>"$work/results"
}

# skopeo_loop FROM TO: one `skopeo copy` per image ($i in FROM and TO is the image number), with a
# fresh blob-info cache so no mount learnt in an earlier phase helps it.
skopeo_loop() {
    local from=$1 to=$2 i
    echo "export HOME=$(mktemp -d "$work/home.XXXXXX")"
    for i in $(seq "$IMAGES"); do
        echo "skopeo copy --quiet --preserve-digests --src-tls-verify=false --dest-tls-verify=false ${from//\$i/$i} ${to//\$i/$i}"
    done
}

: >"$work/results"
start_registry reg
reg=$addr
echo "seeding $reg..." >&2
"$bin" sync -q --plain-http "$work/src" "$reg" >/dev/null

echo "dd..." >&2
prep_dd() { rm -f "$work/dd.out"; }
cmd_dd() { echo "cat $work/src/blobs/sha256/* | dd of=$work/dd.out bs=4M conv=fsync status=none"; }
run_case dd
rm -f "$work/dd.out"

images() { local i; for i in $(seq "$IMAGES"); do echo -n "$1/bench/img$i:1 "; done; }

echo "pull..." >&2
prep_pull_ocilayout() { rm -rf "$work/pull-ours"; }
cmd_pull_ocilayout() { echo "$bin pull -q --plain-http --jobs $JOBS $(images "$reg") $work/pull-ours"; }
run_case pull_ocilayout
"$bin" fsck "$work/pull-ours" >/dev/null 2>&1
prep_pull_skopeo() { rm -rf "$work/pull-skopeo"; }
cmd_pull_skopeo() { skopeo_loop "docker://$reg/bench/img\$i:1" "oci:$work/pull-skopeo:img\$i"; }
run_case pull_skopeo

echo "push..." >&2
prep_push_ocilayout() { start_registry "push-ours-$1"; preg=$addr; }
cmd_push_ocilayout() { echo "$bin sync -q --plain-http --jobs $JOBS $work/src $preg"; }
run_case push_ocilayout
prep_push_skopeo() { start_registry "push-skopeo-$1"; preg=$addr; }
cmd_push_skopeo() { skopeo_loop "oci:$work/src:img\$i" "docker://$preg/bench/img\$i:1"; }
run_case push_skopeo

echo "copy between registries..." >&2
# One `copy` per image, registry to registry (two registries: blobs stream through, no mounts),
# against the same loop of `skopeo copy`; a fresh destination registry for every run.
prep_copy_ocilayout() { start_registry "copy-ours-$1"; creg=$addr; }
cmd_copy_ocilayout() {
    local i
    for i in $(seq "$IMAGES"); do
        echo "$bin copy -q --plain-http --jobs $JOBS $reg/bench/img$i:1 $creg/bench/img$i:1"
    done
}
run_case copy_ocilayout
prep_copy_skopeo() { start_registry "copy-skopeo-$1"; creg=$addr; }
cmd_copy_skopeo() { skopeo_loop "docker://$reg/bench/img\$i:1" "docker://$creg/bench/img\$i:1"; }
run_case copy_skopeo

echo "pull through the 20 ms proxy..." >&2
pport=$(free_port)
python3 "$work/proxy.py" "$pport" "$reg" &
pids+=($!)
sleep 0.5
slow=127.0.0.1:$pport
prep_latency_ocilayout() { rm -rf "$work/pull-ours-slow"; }
cmd_latency_ocilayout() { echo "$bin pull -q --plain-http --jobs $JOBS $(images "$slow") $work/pull-ours-slow"; }
run_case latency_ocilayout
prep_latency_skopeo() { rm -rf "$work/pull-skopeo-slow"; }
cmd_latency_skopeo() { skopeo_loop "docker://$slow/bench/img\$i:1" "oci:$work/pull-skopeo-slow:img\$i"; }
run_case latency_skopeo

# One image with a single BIG_MIB layer: memory must not grow with the blob (pull and push, once).
if [ "$BIG_MIB" -gt 0 ]; then
    echo "one ${BIG_MIB} MiB blob..." >&2
    python3 - "$work/big" "$BIG_MIB" <<'EOF'
import hashlib, json, os, sys, zlib
root, mib = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{root}/blobs/sha256", exist_ok=True)
tmp = f"{root}/layer.tmp"
h = hashlib.sha256()
c = zlib.compressobj(0, zlib.DEFLATED, 31)
with open(tmp, "wb") as f:
    for _ in range(mib):
        b = c.compress(os.urandom(1 << 20))
        h.update(b); f.write(b)
    b = c.flush(); h.update(b); f.write(b)
size = os.path.getsize(tmp)
os.rename(tmp, f"{root}/blobs/sha256/{h.hexdigest()}")
def put(b):
    d = hashlib.sha256(b).hexdigest()
    open(f"{root}/blobs/sha256/{d}", "wb").write(b)
    return {"digest": f"sha256:{d}", "size": len(b)}
layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": f"sha256:{h.hexdigest()}", "size": size}
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
                       "layers": [layer]}).encode()
entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(manifest),
         "annotations": {"io.containerd.image.name": "docker.io/bench/big:1", "org.opencontainers.image.ref.name": "1"}}
json.dump({"schemaVersion": 2, "manifests": [entry]}, open(f"{root}/index.json", "w"))
open(f"{root}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
    saved_reps=$REPS
    REPS=1
    prep_big_push_ocilayout() { start_registry big-registry; breg=$addr; }
    cmd_big_push_ocilayout() { echo "$bin sync -q --plain-http --jobs $JOBS $work/big $breg"; }
    run_case big_push_ocilayout
    prep_big_pull_ocilayout() { rm -rf "$work/big-pull"; }
    cmd_big_pull_ocilayout() { echo "$bin pull -q --plain-http --jobs $JOBS $breg/bench/big:1 $work/big-pull"; }
    run_case big_pull_ocilayout
    REPS=$saved_reps
    rm -rf "$work/big" "$work/big-pull" "$work/big-registry/data"
fi

get() { awk -v l="$1" -v f="$2" '$1 == l {print $f}' "$work/results"; }
ratio() { echo "scale=2; $1 / $2" | bc; }
mib=$((total >> 20))
echo
echo "data: $IMAGES images, $((IMAGES * 8)) layers, $mib MiB; jobs=$JOBS; $(nproc) cores; median of $REPS runs"
printf '%-20s %9s %9s %9s  %s\n' case seconds MiB/s "RSS MB" "all runs"
while read -r label secs rss rest; do
    size=$mib
    case $label in big_*) size=$BIG_MIB ;; esac
    printf '%-20s %9.2f %9.0f %9s  %s\n' "$label" "$secs" "$(echo "$size / $secs" | bc -l)" "$rss" "$rest"
done <"$work/results"
echo
echo "pull: ocilayout / skopeo = $(ratio "$(get pull_ocilayout 2)" "$(get pull_skopeo 2)") (goal <= 1.0)"
echo "pull: ocilayout / dd     = $(ratio "$(get pull_ocilayout 2)" "$(get dd 2)") (goal <= 1.5)"
echo "push: ocilayout / skopeo = $(ratio "$(get push_ocilayout 2)" "$(get push_skopeo 2)")"
echo "copy registry to registry: ocilayout / skopeo = $(ratio "$(get copy_ocilayout 2)" "$(get copy_skopeo 2)")"
echo "20 ms proxy pull: skopeo / ocilayout = $(ratio "$(get latency_skopeo 2)" "$(get latency_ocilayout 2)") (goal >= 2)"
echo "peak RSS: pull $(get pull_ocilayout 3) MB, push $(get push_ocilayout 3) MB (goal <= 150)"
if [ "$BIG_MIB" -gt 0 ]; then
    echo "peak RSS with one $BIG_MIB MiB blob: pull $(get big_pull_ocilayout 3) MB, push $(get big_push_ocilayout 3) MB (goal <= 150)"
fi

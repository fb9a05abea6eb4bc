#!/usr/bin/env bash
# Benchmarks of index.json at scale (issue 10 item 8), release build:
#   1. memory: peak RSS of reading (`ls`, `resolve`) and rewriting (`tag`, `untag`) a layout whose
#      index.json is about 50 MB, as a multiple of the file's size (peak RSS minus the RSS of the same
#      command on an empty layout, divided by the size of index.json);
#   2. time: importing an archive of 80,000 unnamed entries (one digest, every descriptor different)
#      and 80,000 named ones into a new layout, then again over itself;
#   3. time: 20,000 referrers added to a 20,000-entry index (the library's unit test, release);
#   4. a .tar.gz whose index.json inflates to 1 GiB: time and peak RSS of the refusal.
# Usage: bench/index.sh   (needs python3, gzip, /usr/bin/time)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/ocilayout
[[ $BIN = /* ]] || BIN=$ROOT/$BIN
for t in python3 gzip /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "bench: $t is required" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ocilayout-index-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Peak RSS in KiB and wall seconds of a command: "KIB SECONDS".
measure() {
    /usr/bin/time -f "%M %e" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" || {
        cat "$WORK/stderr" >&2
        return 1
    }
    cat "$WORK/time"
}

# ---- 1. memory ----------------------------------------------------------------------------------
BIG=$WORK/big
SMALL=$WORK/small
D1=sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290
mkdir -p "$BIG"
cp -a fixtures/umoci/oci-layout fixtures/umoci/blobs "$BIG/"
"$BIN" init "$SMALL" 2>/dev/null
cp -a fixtures/umoci/blobs "$SMALL/"
"$BIN" tag "$SMALL" "$D1" small:1 2>/dev/null
python3 - "$BIG" <<'EOF'
import json, sys
d1 = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290", "size": 345}
entries = []
for i in range(250_000):
    e = dict(d1)
    e["annotations"] = {"io.containerd.image.name": f"registry.example/team{i % 100}/app{i}:v{i}",
                        "org.opencontainers.image.ref.name": f"v{i}", "org.example.i": str(i)}
    if i % 10 == 0:
        e["platform"] = {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"}
        e["x-unknown"] = {"kept": True}
    entries.append(e)
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
with open(sys.argv[1] + "/index.json", "w") as f:
    json.dump(index, f, separators=(",", ":"))
EOF
SIZE=$(stat -c %s "$BIG/index.json")
echo "1. index.json of $SIZE bytes, 250,000 entries; ratio = (peak RSS - peak RSS on a 1-entry layout) / size"
printf "   %-22s %10s %10s %8s %8s\n" command "peak KiB" "base KiB" ratio seconds
# report LABEL "KIB SECS" "BASE_KIB BASE_SECS"
report() {
    python3 -c "
b, s = map(float, '$2'.split()); e = float('$3'.split()[0])
print('   %-22s %10d %10d %7.2fx %8.2f' % ('$1', b, e, (b - e) * 1024 / $SIZE, s))"
}
report "ls (read)" "$(measure "$BIN" ls "$BIG")" "$(measure "$BIN" ls "$SMALL")"
report "resolve (fast scan)" "$(measure "$BIN" resolve "$BIG" v249999)" \
    "$(measure "$BIN" resolve "$SMALL" small:1)"
report "tag (rewrite)" "$(measure "$BIN" tag "$BIG" v249999 bench-new:1)" \
    "$(measure "$BIN" tag "$SMALL" small:1 bench-new:1)"
report "untag (rewrite)" "$(measure "$BIN" untag "$BIG" bench-new:1)" \
    "$(measure "$BIN" untag "$SMALL" bench-new:1)"

# ---- 2. merge ------------------------------------------------------------------------------------
SRC=$WORK/merge-src
mkdir -p "$SRC"
cp -a fixtures/umoci/oci-layout fixtures/umoci/blobs "$SRC/"
python3 - "$SRC" <<'EOF'
import json, sys
d1 = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290", "size": 345}
d2 = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:fe406964010afe2356f3e5b531e5037f420d4e672132e9125bb6665dddf644fe", "size": 499}
entries = [dict(d1, annotations={"org.example.n": str(i)}) for i in range(80_000)]
entries += [dict(d2, annotations={"io.containerd.image.name": f"example.com/bulk/img{i}:t"})
            for i in range(80_000)]
with open(sys.argv[1] + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": entries}, f, separators=(",", ":"))
EOF
"$BIN" export "$SRC" "$WORK/merge.tar.gz" 2>/dev/null
echo
echo "2. import of 80,000 unnamed + 80,000 named entries ($(stat -c %s "$WORK/merge.tar.gz") bytes .tar.gz)"
read -r kib secs <<<"$(measure "$BIN" import "$WORK/merge.tar.gz" "$WORK/merge-dst")"
echo "   into a new layout:    ${secs}s, peak $kib KiB"
read -r kib secs <<<"$(measure "$BIN" import "$WORK/merge.tar.gz" "$WORK/merge-dst")"
echo "   again, over itself:   ${secs}s, peak $kib KiB"

# ---- 3. referrers --------------------------------------------------------------------------------
echo
echo "3. 20,000 referrers added to a 20,000-entry index (twice: the second adds none)"
cargo test --release --quiet --lib twenty_thousand_referrers 2>&1 | grep -o "finished in .*" | sed 's/^/   test /'

# ---- 4. bomb -------------------------------------------------------------------------------------
BOMB=$WORK/bomb
mkdir -p "$BOMB"
cp fixtures/umoci/oci-layout "$BOMB/"
python3 - "$BOMB/index.json" <<'EOF'
import sys
one = b'{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290","size":345},'
with open(sys.argv[1], "wb") as f:
    f.write(b'{"schemaVersion":2,"manifests":[')
    chunk = one * (1 << 20 // len(one) + 1)
    written = 0
    while written < (1 << 30) - 4096:
        f.write(chunk); written += len(chunk)
    f.write(one[:-1] + b']}')
EOF
tar -C "$BOMB" -cf - oci-layout index.json | gzip -9 > "$WORK/bomb.tar.gz"
rm "$BOMB/index.json"
echo
echo "4. a $(stat -c %s "$WORK/bomb.tar.gz")-byte .tar.gz whose index.json inflates to 1 GiB"
if /usr/bin/time -f "%M %e" -o "$WORK/time" "$BIN" import "$WORK/bomb.tar.gz" "$WORK/bomb-dst" \
    2>"$WORK/stderr"; then
    echo "   imported, not refused!"
fi
# The last line: /usr/bin/time puts "Command exited with non-zero status 1" before it.
read -r kib secs < <(tail -1 "$WORK/time")
echo "   refused in ${secs}s, peak $kib KiB: $(tail -1 "$WORK/stderr")"

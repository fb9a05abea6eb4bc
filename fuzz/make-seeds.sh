#!/usr/bin/env bash
# Regenerates the committed seed corpora in fuzz/corpus/ from fixtures/ and a few hand-made hostile
# inputs. Run from anywhere; needs cargo and python3. Each file is named by the SHA-1 of its content,
# as libFuzzer names the inputs it adds, so running it again adds nothing that is already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build -q
ol="${CARGO_TARGET_DIR:-target}/debug/ocilayout"
mkdir -p "$work/tars"
for f in umoci skopeo containerd multiarch docker artifact; do
  "$ol" -q export "fixtures/$f" "$work/tars/$f.tar"
done
"$ol" -q export --docker-manifest fixtures/docker "$work/tars/docker-manifest.tar"
"$ol" -q export fixtures/containerd "$work/tars/containerd.tar.gz"
"$ol" -q export fixtures/containerd "$work/tars/one-ref.tar" ghcr.io/acme/tool:1.0

python3 - "$root" "$work" <<'EOF'
import hashlib, io, json, os, re, sys, tarfile

root, work = sys.argv[1], sys.argv[2]
corpus = os.path.join(root, "fuzz", "corpus")

def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

def read(path):
    with open(path, "rb") as f:
        return f.read()

# reference: the inputs of the case table in src/reference.rs (`fn table`), with its variables.
H = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
src = read(os.path.join(root, "src", "reference.rs")).decode()
start = src.index("let cases: Vec<(String, Want)> = vec![")
body = re.sub(r"\s+", " ", src[start:src.index("];", start)])
env = {"d": "sha256:" + H, "HEX": H, "sha512": "sha512:" + "a" * 128, "tag128": "t" * 128,
       "tag129": "t" * 129, "user255": "user/" + "a" * 250, "user256": "user/" + "a" * 251,
       "lib255": "a" * 247, "lib256": "a" * 248}
case = re.compile(r'\( ?("(?:[^"\\]|\\.)*"\.into\(\)|format!\("(?:[^"\\]|\\.)*"(?:, [\w.()]+)?\)'
                  r'|\w+\.clone\(\)|\w+\.into\(\)|\w+) ?, ?(?:ok\(|Ok\(|Err\()')
for m in case.finditer(body):
    e = m.group(1)
    if e.startswith('"'):
        s = e[1:e.rindex('"')]
    elif e.startswith("format!"):
        fmt = e[len('format!("'):e.rindex('"')]
        if "HEX.to_uppercase()" in e:
            fmt = fmt.replace("{}", H.upper())
        s = re.sub(r"\{(\w+)\}", lambda v: env[v.group(1)], fmt)
    else:
        s = env[e.split(".")[0]]
    seed("reference", s)

fixtures = os.path.join(root, "fixtures")
layouts = sorted(n for n in os.listdir(fixtures) if os.path.isdir(os.path.join(fixtures, n)))
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"

# index_json: every fixture's index.json, and hostile ones.
for n in layouts:
    seed("index_json", read(os.path.join(fixtures, n, "index.json")))
def entry(digest="sha256:" + H, name=None, ref=None, extra=None):
    e = {"mediaType": MANIFEST, "digest": digest, "size": 2}
    a = {}
    if name is not None: a["io.containerd.image.name"] = name
    if ref is not None: a["org.opencontainers.image.ref.name"] = ref
    if a: e["annotations"] = a
    e.update(extra or {})
    return e
def index(entries):
    return json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries})
for text in [
    "{}",
    '{"schemaVersion":2,"manifests":[]}',
    '{"schemaVersion":2,"manifests":{}}',
    '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"sha256:%s","size":2,'
    '"annotations":{"org.opencontainers.image.ref.name":"a","org.opencontainers.image.ref.name":"b"}}]}'
    % (MANIFEST, H),
    '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"sha256:%s","size":2,'
    '"annotations":{"x":1,"org.opencontainers.image.ref.name":"v1"}}]}' % (MANIFEST, H),
    '{"schemaVersion":2,"manifests":[{"digest":"sha256:%s"}]}' % H,
    index([entry("sha256:../../etc/passwd", ref="x")]),
    index([entry("sha512:" + "ab" * 64, name="docker.io/library/alpine:3.16", ref="3.16")]),
    index([entry("sha256:" + H, ref="v1"), entry("sha256:" + "0" * 64, ref="v1")]),
    index([entry("sha256:" + H, name="a/b:1", ref="1"), entry("sha256:" + "1" * 64, name="c/d:1", ref="1")]),
    index([entry("sha256:" + H, ref="line\nbreak"), entry("sha256:" + "0" * 64, ref="line\nbreak")]),
    index([entry(name="Bad Name", ref="alpine:3.16"), entry(name=None, ref="sha256:" + H)]),
    index([entry(extra={"platform": {"os": "linux", "architecture": "amd64"}, "size": -1})]),
    "[" * 200 + "]" * 200,
    '{"schemaVersion":2,"manifests":[' + "[" * 130 + "]" * 130 + "]}",
    '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"sha256:\\u0030%s","size":2}]}'
    % (MANIFEST, H[1:]),
]:
    seed("index_json", text)

# manifest: every JSON blob of the fixtures that refers to others, and hostile ones.
seen = set()
for n in layouts:
    d = os.path.join(fixtures, n, "blobs", "sha256")
    for b in sorted(os.listdir(d)):
        data = read(os.path.join(d, b))
        try:
            doc = json.loads(data)
        except ValueError:
            continue
        if isinstance(doc, dict) and any(k in doc for k in ("manifests", "layers", "blobs", "config")):
            if b not in seen:
                seen.add(b)
                seed("manifest", data)
def desc(mt, digest, size, **kw):
    d = {"mediaType": mt, "digest": digest, "size": size}
    d.update(kw)
    return d
for doc in [
    {"schemaVersion": 2, "mediaType": MANIFEST, "config": desc("application/json", "sha256:../x", 2), "layers": []},
    {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v1+json", "fsLayers": []},
    {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        desc(INDEX, "sha256:ecb24d58728d9afb00088439a373386121d3974de5869af043fd1759253a28c5", 506),
        desc(MANIFEST, "sha256:" + "0" * 64, 10, platform={"os": "linux", "architecture": "arm64"})]},
    {"schemaVersion": 2, "mediaType": MANIFEST, "config": desc("x", "sha512:" + "ab" * 64, 1 << 40),
     "layers": None, "subject": desc(MANIFEST, "sha256:" + H, 2)},
    {"manifests": [desc(INDEX, "sha256:" + H, 0)] * 3},
]:
    seed("manifest", json.dumps(doc))
seed("manifest", '{"layers":' + "[" * 200 + "]" * 200 + "}")
seed("manifest", "")

# archive_import: exports of the fixtures (plain, gzip, one reference, with manifest.json), and
# hostile archives built here.
for t in sorted(os.listdir(os.path.join(work, "tars"))):
    seed("archive_import", read(os.path.join(work, "tars", t)))

def member(tf, name, data=b"", kind=tarfile.REGTYPE, link="", pax=None):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = 0
    info.mode = 0o644
    if pax:
        info.pax_headers = pax
    tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

def archive(members, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for m in members:
            member(tf, *m[:2], **(m[2] if len(m) > 2 else {}))
    return buf.getvalue()

umoci = os.path.join(fixtures, "umoci")
layout = [("oci-layout", read(os.path.join(umoci, "oci-layout"))),
          ("index.json", read(os.path.join(umoci, "index.json")))]
blobs = [("blobs/sha256/" + b, read(os.path.join(umoci, "blobs", "sha256", b)))
         for b in sorted(os.listdir(os.path.join(umoci, "blobs", "sha256")))]
bad_blob = ("blobs/sha256/" + H, b"not empty")
for members, fmt in [
    ([("../escape", b"x")], tarfile.GNU_FORMAT),
    ([("/tmp/absolute", b"x")], tarfile.GNU_FORMAT),
    ([("blobs\\..\\x", b"x")], tarfile.GNU_FORMAT),
    ([("oci-layout", b"", {"kind": tarfile.SYMTYPE, "link": "/etc/passwd"})], tarfile.GNU_FORMAT),
    ([("index.json", b"", {"kind": tarfile.LNKTYPE, "link": "../../index.json"})], tarfile.GNU_FORMAT),
    ([("dev", b"", {"kind": tarfile.CHRTYPE})], tarfile.GNU_FORMAT),
    ([("fifo", b"", {"kind": tarfile.FIFOTYPE})], tarfile.GNU_FORMAT),
    ([("x", b"y", {"pax": {"path": "../../pax-escape"}})], tarfile.PAX_FORMAT),
    ([("../" * 40 + "long-escape", b"x")], tarfile.GNU_FORMAT),
    ([("blobs/sha256/" + "a" * 40 + "/" + "b" * 80, b"x")], tarfile.GNU_FORMAT),
    (layout + blobs + [bad_blob], tarfile.GNU_FORMAT),
    (layout + [layout[0]] + blobs, tarfile.GNU_FORMAT),
    (layout[:1] + blobs, tarfile.GNU_FORMAT),
    (layout + blobs[1:], tarfile.GNU_FORMAT),
    ([("oci-layout", b'{"imageLayoutVersion":"2.0.0"}')] + layout[1:] + blobs, tarfile.PAX_FORMAT),
    ([("./", b"", {"kind": tarfile.DIRTYPE}), ("./oci-layout", layout[0][1]),
      ("./index.json", layout[1][1])] + [("./" + n, d) for n, d in blobs], tarfile.USTAR_FORMAT),
]:
    seed("archive_import", archive(members, fmt))
whole = read(os.path.join(work, "tars", "umoci.tar"))
seed("archive_import", whole[:3000])
seed("archive_import", b"\0" * 1024)
seed("archive_import", b"")

# www_authenticate: challenges as registries send them, and broken ones.
for h in [
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
    'Basic realm="Registry Realm"',
    'Basic',
    'Bearer realm="https://a/t", error="insufficient_scope", scope="repository:x:pull,push"',
    'Basic realm="x", Bearer realm="https://t", service=reg',
    'Bearer realm="a\\"b"',
    'Bearer realm="http://127.0.0.1:1/token?x=1&y=2",service="s s",scope="repository:a:pull repository:b:push"',
    'Bearer realm="unterminated',
    '=,=,Bearer ,realm=',
    'Negotiate abc==, Bearer realm=""',
    'Bearer realm="https://t",scope="repository:a/b:pull,push",scope="registry:catalog:*"',
    '',
]:
    seed("www_authenticate", h)

# token_response: answers of token servers, honest and hostile.
for t in [
    '{"token":"abc","expires_in":300,"issued_at":"2024-02-29T12:34:56Z"}',
    '{"access_token":"abc","expires_in":60}',
    '{"token":"abc","access_token":"def"}',
    '{"token":"abc","expires_in":9223372036854775807}',
    '{"token":"abc","expires_in":18446744073709551615}',
    '{"token":"abc","expires_in":1e308,"issued_at":"9999-12-31T23:59:59Z"}',
    '{"token":"abc","expires_in":-1,"issued_at":"0000-01-01T00:00:00+99:99"}',
    '{"token":"abc","expires_in":"300","issued_at":12}',
    '{"token":""}',
    '{"token":null,"access_token":["x"]}',
    '{}',
    'not json',
]:
    seed("token_response", t)
EOF
du -sh fuzz/corpus/*

#!/usr/bin/env bash
# Regenerate fixtures/: small, real OCI image-layout directories for the ocilayout tests.
#
#   scripts/make-fixtures.sh          (from the repository root; needs umoci, skopeo, python3)
#
# Everything under fixtures/ is deleted and rebuilt, and fixtures/README.md is written from the
# resulting index.json files, so the digests in it are always the ones on disk.
# No network is used: every image starts from `umoci new`.
#
# Determinism: all timestamps are pinned (umoci config --created, --history.created, file mtimes
# via touch, SOURCE_DATE_EPOCH); blobs written by python are compact JSON with fixed key order.
# With umoci 0.4.7 and skopeo 1.9.3 two runs produce byte-identical fixtures (checked with
# `scripts/make-fixtures.sh --check`, which runs the generator twice and compares).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ "${1:-}" == "--check" ]]; then
    "$0"
    first="$(cd fixtures && find . -type f -print0 | sort -z | xargs -0 sha256sum)"
    "$0"
    second="$(cd fixtures && find . -type f -print0 | sort -z | xargs -0 sha256sum)"
    if [[ "$first" == "$second" ]]; then
        echo "make-fixtures: deterministic: two runs produced identical files"
        exit 0
    fi
    echo "make-fixtures: NOT deterministic:" >&2
    diff <(echo "$first") <(echo "$second") >&2 || true
    exit 1
fi

for tool in umoci skopeo python3 sha256sum; do
    command -v "$tool" >/dev/null || { echo "make-fixtures: $tool not found" >&2; exit 1; }
done

export TZ=UTC LC_ALL=C
export SOURCE_DATE_EPOCH=1577836800          # 2020-01-01T00:00:00Z
CREATED=2020-01-01T00:00:00Z
CREATED2=2020-01-02T00:00:00Z
MTIME="@${SOURCE_DATE_EPOCH}"
umask 022

F=fixtures
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Local copies only; the default policy may be stricter on other machines.
SKOPEO=(skopeo --insecure-policy)

log() { printf 'make-fixtures: %s\n' "$*" >&2; }

rm -rf "$F"
mkdir -p "$F"

# ---------------------------------------------------------------------------------------------
# Python helper: blob copying, hand-written manifests/indexes, validation, README.
# ---------------------------------------------------------------------------------------------
cat > "$TMP/fx.py" <<'PY'
import hashlib, json, os, shutil, sys

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
NAME = "io.containerd.image.name"
REF = "org.opencontainers.image.ref.name"
LAYOUT = '{"imageLayoutVersion":"1.0.0"}'


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def blob_path(layout, digest):
    alg, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", alg, hexd)


def read_blob(layout, digest):
    with open(blob_path(layout, digest), "rb") as f:
        return f.read()


def put_blob(layout, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(layout, digest)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
    return digest, len(data)


def init_layout(layout):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write(LAYOUT)
    write_index(layout, [])


def load_index(layout):
    with open(os.path.join(layout, "index.json")) as f:
        return json.load(f)


def write_index(layout, manifests):
    idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(dumps(idx) + b"\n")


def children(desc, data):
    """Descriptors a blob refers to downward (never `subject`)."""
    mt = desc["mediaType"]
    if mt in (OCI_INDEX, DOCKER_LIST):
        return json.loads(data).get("manifests", [])
    if mt in (OCI_MANIFEST, DOCKER_MANIFEST):
        m = json.loads(data)
        return [m["config"]] + m.get("layers", []) + m.get("blobs", [])
    return []


def copy_closure(src, dst, desc):
    data = read_blob(src, desc["digest"])
    assert hashlib.sha256(data).hexdigest() == desc["digest"].split(":")[1]
    put_blob(dst, data)
    for c in children(desc, data):
        copy_closure(src, dst, c)


def find_ref(layout, ref):
    hits = [d for d in load_index(layout)["manifests"]
            if d.get("annotations", {}).get(REF) == ref]
    assert len(hits) == 1, (layout, ref, hits)
    return hits[0]


def desc_of(desc, **extra):
    d = {"mediaType": desc["mediaType"], "digest": desc["digest"], "size": desc["size"]}
    d.update(extra)
    return d


def containerd(name, tag):
    a = {NAME: name}
    if tag is not None:
        a[REF] = tag
    return a


# --- layouts ---------------------------------------------------------------------------------

def cmd_containerd(umoci, dst):
    init_layout(dst)
    v1 = find_ref(umoci, "v1")
    v2 = find_ref(umoci, "v2")
    for d in (v1, v2):
        copy_closure(umoci, dst, d)
    entries = [
        desc_of(v1, annotations=containerd("docker.io/library/alpine:3.16", "3.16")),
        desc_of(v2, annotations=containerd("ghcr.io/acme/tool:1.0", "1.0")),
        desc_of(v1, annotations=containerd("quay.io/acme/tool:1.0", "1.0")),
        desc_of(v2, annotations=containerd("localhost:5000/team/app:dev", "dev")),
        # containerd pulled by digest: the name keeps the digest, there is no tag, no ref.name.
        desc_of(v1, annotations=containerd("docker.io/library/alpine@" + v1["digest"], None)),
    ]
    write_index(dst, entries)


def cmd_multiarch(umoci, dst):
    init_layout(dst)
    v1 = find_ref(umoci, "v1")
    copy_closure(umoci, dst, v1)
    # linux/amd64: umoci's own manifest and config, byte for byte.
    amd64 = desc_of(v1, platform={"architecture": "amd64", "os": "linux"})
    # linux/arm64/v8: same layers, a config saying arm64/v8, a new manifest.
    m = json.loads(read_blob(dst, v1["digest"]))
    cfg = json.loads(read_blob(dst, m["config"]["digest"]))
    cfg["architecture"] = "arm64"
    cfg["variant"] = "v8"
    cd, cs = put_blob(dst, dumps(cfg))
    arm = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": cs},
           "layers": m["layers"]}
    ad, asz = put_blob(dst, dumps(arm))
    arm64 = {"mediaType": OCI_MANIFEST, "digest": ad, "size": asz,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}

    multi = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd64, arm64]}
    md, ms = put_blob(dst, dumps(multi))

    # nested: index.json -> outer index -> inner index -> platform manifests.
    inner = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd64, arm64],
             "annotations": {"org.example.level": "inner"}}
    innd, inns = put_blob(dst, dumps(inner))
    outer = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [{"mediaType": OCI_INDEX, "digest": innd, "size": inns}],
             "annotations": {"org.example.level": "outer"}}
    outd, outs = put_blob(dst, dumps(outer))

    write_index(dst, [
        {"mediaType": OCI_INDEX, "digest": md, "size": ms,
         "annotations": containerd("docker.io/library/multi:1", "1")},
        {"mediaType": OCI_INDEX, "digest": outd, "size": outs,
         "annotations": containerd("docker.io/library/nested:1", "1")},
    ])


def cmd_docker_list(dst):
    # skopeo already wrote the schema2 manifest (tag v2s2); add a manifest list over it.
    s2 = find_ref(dst, "v2s2")
    assert s2["mediaType"] == DOCKER_MANIFEST, s2
    lst = {"schemaVersion": 2, "mediaType": DOCKER_LIST,
           "manifests": [{"mediaType": DOCKER_MANIFEST, "size": s2["size"], "digest": s2["digest"],
                          "platform": {"architecture": "amd64", "os": "linux"}}]}
    ld, ls = put_blob(dst, dumps(lst))
    idx = load_index(dst)
    idx["manifests"].append({"mediaType": DOCKER_LIST, "digest": ld, "size": ls,
                             "annotations": containerd("docker.io/library/dockerlist:1", "1")})
    write_index(dst, idx["manifests"])


def cmd_artifact(umoci, dst):
    init_layout(dst)
    v1 = find_ref(umoci, "v1")
    copy_closure(umoci, dst, v1)
    ed, es = put_blob(dst, b"{}")
    assert (ed, es) == (EMPTY_DIGEST, 2), ed
    sbom = {"spdxVersion": "SPDX-2.3", "name": "app", "SPDXID": "SPDXRef-DOCUMENT",
            "packages": [{"name": "motd", "versionInfo": "1"}]}
    sd, ss = put_blob(dst, dumps(sbom))
    art = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "artifactType": "application/vnd.example.sbom",
           "config": {"mediaType": OCI_EMPTY, "digest": ed, "size": es},
           "layers": [{"mediaType": "application/vnd.example.sbom.v1+json", "digest": sd, "size": ss,
                       "annotations": {"org.opencontainers.image.title": "sbom.json"}}],
           "subject": desc_of(v1),
           "annotations": {"org.opencontainers.image.created": "2020-01-01T00:00:00Z"}}
    artd, arts = put_blob(dst, dumps(art))
    ud, us = put_blob(dst, b"opaque payload of an unknown media type\n")
    write_index(dst, [
        desc_of(v1, annotations=containerd("docker.io/library/app:1", "1")),
        # oras-style: the referrer is a root with no name, so gc keeps it.
        {"mediaType": OCI_MANIFEST, "digest": artd, "size": arts,
         "artifactType": "application/vnd.example.sbom"},
        {"mediaType": "application/vnd.example.unknown", "digest": ud, "size": us,
         "annotations": {REF: "mystery"}},
    ])


# --- validation --------------------------------------------------------------------------------

def cmd_validate(*layouts):
    for layout in layouts:
        with open(os.path.join(layout, "oci-layout")) as f:
            assert json.load(f) == {"imageLayoutVersion": "1.0.0"}, layout
        d = os.path.join(layout, "blobs", "sha256")
        on_disk = set()
        for name in os.listdir(d):
            data = open(os.path.join(d, name), "rb").read()
            assert hashlib.sha256(data).hexdigest() == name, (layout, name)
            on_disk.add("sha256:" + name)
        extra = set(os.listdir(os.path.join(layout, "blobs"))) - {"sha256"}
        assert not extra, (layout, extra)
        reached = set()

        def walk(desc):
            data = read_blob(layout, desc["digest"])
            assert len(data) == desc["size"], (layout, desc)
            reached.add(desc["digest"])
            for c in children(desc, data):
                walk(c)

        for desc in load_index(layout)["manifests"]:
            walk(desc)
        assert reached == on_disk, (layout, "unreferenced", on_disk - reached)
        print(f"ok {layout}: {len(on_disk)} blobs, all reachable, all hashes and sizes match")


def cmd_renamed_copy(src, dst):
    """Copy of a layout whose entries are tagged e0, e1, ... so skopeo can address each one."""
    shutil.copytree(src, dst)
    idx = load_index(dst)
    for i, d in enumerate(idx["manifests"]):
        d["annotations"] = {REF: f"e{i}"}
    write_index(dst, idx["manifests"])
    for i, d in enumerate(idx["manifests"]):
        print(f"e{i} {d['digest']} {d['mediaType']} {d.get('artifactType', '-')}")


def cmd_dir_copy(layout, digest, dst):
    """containers-image `dir:` copy of one manifest (and a list's instances), for skopeo to read
    Docker media types, which its oci: transport does not look up (see README)."""
    os.makedirs(dst)
    with open(os.path.join(dst, "version"), "w") as f:
        f.write("Directory Transport Version: 1.1\n")
    data = read_blob(layout, digest)
    with open(os.path.join(dst, "manifest.json"), "wb") as f:
        f.write(data)
    top = json.loads(data)
    todo = [(top, None)]
    while todo:
        m, _ = todo.pop()
        if "manifests" in m:
            for d in m["manifests"]:
                sub = read_blob(layout, d["digest"])
                with open(os.path.join(dst, d["digest"].split(":")[1] + ".manifest.json"), "wb") as f:
                    f.write(sub)
                todo.append((json.loads(sub), d))
        else:
            for d in [m["config"]] + m.get("layers", []):
                shutil.copyfile(blob_path(layout, d["digest"]),
                                os.path.join(dst, d["digest"].split(":")[1]))


# --- README ------------------------------------------------------------------------------------

WRITTEN_BY = {
    "umoci": "umoci 0.4.7 (`init`, `new`, `config`, `unpack`/`repack`, `tag`, `gc`)",
    "skopeo": "skopeo 1.9.3 `copy oci:fixtures/umoci:TAG oci:fixtures/skopeo:NAME`",
    "containerd": "script (python), containerd/buildkit export style; blobs from umoci",
    "multiarch": "script (python); amd64 = umoci v1 manifest, arm64/v8 config+manifest written",
    "docker": "skopeo 1.9.3 `copy --format v2s2` (schema2) + script (manifest list)",
    "artifact": "script (python); image from umoci v1",
}
EXERCISES = {
    "umoci": "§2 reading bare tags (umoci); two tags (`v1`, `latest`) on one digest; tag/untag/gc on a tool-written layout",
    "skopeo": "§2 reading: ref.name holding a full name (`docker.io/library/alpine:3.16`), a short name (`alpine:3.17`), a host:port name, and a bare tag; resolve steps 2-4",
    "containerd": "§2 `io.containerd.image.name` wins; canonical resolve; bare tag `1.0` is ambiguous (ghcr.io vs quay.io, different digests) -> error listing both; a digest-only name (tag null)",
    "multiarch": "§2 `--platform` descent (linux/amd64, linux/arm64/v8) through one and through two levels of index; bare tag `1` is ambiguous (multi vs nested); §4 gc follows nested indexes",
    "docker": "§4/§5 Docker schema2 manifest and manifest list: gc marking, fsck media types, `--platform` through a manifest list",
    "artifact": "§4 gc keeps unknown media types (not descended) and artifact manifests; `subject` not followed upward; empty config descriptor; an unnamed root (name/tag null)",
}


def short(mt):
    return {OCI_MANIFEST: "OCI manifest", OCI_INDEX: "OCI index", DOCKER_MANIFEST: "Docker schema2",
            DOCKER_LIST: "Docker manifest list"}.get(mt, "`" + mt + "`")


def cmd_readme(fixtures, *names):
    out = []
    out.append("# Test fixtures\n")
    out.append("Generated by `scripts/make-fixtures.sh` (do not edit; rerun the script). "
               "Every directory is an OCI image layout; the table lists every `index.json` entry in order.\n")
    out.append("| layout | written by | `io.containerd.image.name` | `ref.name` | media type | digest | size | exercises |")
    out.append("|---|---|---|---|---|---|---|---|")
    total = 0
    for n in names:
        layout = os.path.join(fixtures, n)
        for root, _, files in os.walk(layout):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
        for i, d in enumerate(load_index(layout)["manifests"]):
            a = d.get("annotations", {})
            first = i == 0
            out.append("| {} | {} | {} | {} | {} | `{}` | {} | {} |".format(
                f"`{n}/`" if first else "",
                WRITTEN_BY[n] if first else "",
                f"`{a[NAME]}`" if NAME in a else "-",
                f"`{a[REF]}`" if REF in a else "-",
                short(d["mediaType"]), d["digest"], d["size"],
                EXERCISES[n] if first else ""))
    out.append("")
    out.append(f"Total size of the layouts: {total} bytes.\n")
    out.append("Notes:\n")
    out.append("- The generator is deterministic with umoci 0.4.7 / skopeo 1.9.3: all times are pinned "
               "(`umoci config --created`, `--history.created`, file mtimes, `SOURCE_DATE_EPOCH`); "
               "`scripts/make-fixtures.sh --check` runs it twice and compares every file. Other umoci or "
               "skopeo versions may produce other gzip/JSON bytes and therefore other digests.")
    out.append("- umoci writes bare tags into `org.opencontainers.image.ref.name` and no `io.containerd.image.name`.")
    out.append("- skopeo (`oci:DIR:REF`) writes whatever follows the first `:` verbatim into ref.name, full names included "
               "(`docker.io/library/alpine:3.16`, `localhost:5000/team/app:dev`).")
    out.append("- skopeo 1.9.3 writes a Docker schema2 manifest into an `oci:` layout (`--format v2s2`) but cannot read it "
               "back from there (\"no descriptor found for reference\"): its oci: reader only looks at OCI media types. "
               "The script verifies `docker/` through a `dir:` copy instead.")
    out.append("- skopeo resolves `oci:DIR:REF` by exact ref.name and silently takes the first of duplicate ref.names; "
               "umoci refuses them (\"tag is ambiguous\").")
    out.append("- The layers are made with `umoci unpack`/`repack`, not `umoci insert`: umoci 0.4.7's `insert` "
               "writes a tar stream with no padding and no end-of-archive blocks (GNU tar: \"Unexpected EOF in archive\").")
    out.append("- `multiarch/`: `docker.io/library/nested:1` -> outer index -> inner index -> the two platform manifests "
               "(same manifests as `multi:1`; the indexes differ by an `org.example.level` annotation).")
    out.append("- `artifact/`: the SBOM manifest (artifactType `application/vnd.example.sbom`, config = the empty "
               "descriptor `sha256:44136fa3…` size 2) has `subject` = the `app:1` image; it is in index.json without a "
               "name, as oras does, so it is a gc root. `mystery` is a 40-byte blob of media type `application/vnd.example.unknown`.")
    with open(os.path.join(fixtures, "README.md"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"containerd": cmd_containerd, "multiarch": cmd_multiarch, "docker-list": cmd_docker_list,
     "artifact": cmd_artifact, "validate": cmd_validate, "renamed-copy": cmd_renamed_copy,
     "readme": cmd_readme, "dir-copy": cmd_dir_copy}[cmd](*args)
PY
fx() { python3 "$TMP/fx.py" "$@"; }

# Pin mtimes of a bundle's rootfs so repack produces identical tar headers every time.
pin_mtimes() { find "$1" -exec touch -h -d "$MTIME" {} +; }

# ---------------------------------------------------------------------------------------------
# fixtures/umoci: v1, v2 (different content), latest -> same manifest as v1
# ---------------------------------------------------------------------------------------------
log "umoci"
U="$F/umoci"
umoci init --layout "$U"
umoci new --image "$U:v1"
umoci config --image "$U:v1" --created "$CREATED" --author "ocilayout-fixtures" \
    --config.cmd /bin/sh --config.env PATH=/bin \
    --history.created "$CREATED" --history.created_by "umoci config" --history.author "ocilayout-fixtures"

umoci unpack --rootless --image "$U:v1" "$TMP/b1"
mkdir -p "$TMP/b1/rootfs/etc"
printf 'hello from v1\n' > "$TMP/b1/rootfs/etc/motd"
printf 'NAME=fixture\nVERSION_ID=1\n' > "$TMP/b1/rootfs/etc/os-release"
pin_mtimes "$TMP/b1/rootfs"
umoci repack --image "$U:v1" --history.created "$CREATED" --history.created_by "umoci repack v1" \
    --history.author "ocilayout-fixtures" "$TMP/b1"

umoci unpack --rootless --image "$U:v1" "$TMP/b2"
printf 'hello from v2\n' > "$TMP/b2/rootfs/etc/motd"
mkdir -p "$TMP/b2/rootfs/bin"
printf '#!/bin/sh\necho v2\n' > "$TMP/b2/rootfs/bin/hello"
chmod 0755 "$TMP/b2/rootfs/bin/hello"
pin_mtimes "$TMP/b2/rootfs"
umoci repack --image "$U:v2" --history.created "$CREATED2" --history.created_by "umoci repack v2" \
    --history.author "ocilayout-fixtures" "$TMP/b2"

umoci tag --image "$U:v1" latest
umoci gc --layout "$U"
chmod -R u=rwX,go=rX "$U"          # umoci creates blobs 0600

log "verify umoci"
umoci ls --layout "$U"
for t in v1 v2 latest; do
    umoci stat --image "$U:$t" >/dev/null
    "${SKOPEO[@]}" inspect --raw "oci:$U:$t" >/dev/null
done

# ---------------------------------------------------------------------------------------------
# fixtures/skopeo: skopeo copies, bare tag and full names as the "tag"
# ---------------------------------------------------------------------------------------------
log "skopeo"
S="$F/skopeo"
"${SKOPEO[@]}" copy -q "oci:$U:v1" "oci:$S:alpine-like"
"${SKOPEO[@]}" copy -q "oci:$U:v2" "oci:$S:docker.io/library/alpine:3.16"
"${SKOPEO[@]}" copy -q "oci:$U:v2" "oci:$S:alpine:3.17"
"${SKOPEO[@]}" copy -q "oci:$U:v1" "oci:$S:localhost:5000/team/app:dev"
log "verify skopeo"
for t in alpine-like docker.io/library/alpine:3.16 alpine:3.17 localhost:5000/team/app:dev; do
    "${SKOPEO[@]}" inspect --raw "oci:$S:$t" >/dev/null
    "${SKOPEO[@]}" inspect "oci:$S:$t" >/dev/null
done
umoci ls --layout "$S"

# ---------------------------------------------------------------------------------------------
# fixtures/containerd: io.containerd.image.name = full name, ref.name = tag
# ---------------------------------------------------------------------------------------------
log "containerd"
fx containerd "$U" "$F/containerd"

# ---------------------------------------------------------------------------------------------
# fixtures/multiarch: image index over linux/amd64 + linux/arm64/v8, and a nested index
# ---------------------------------------------------------------------------------------------
log "multiarch"
fx multiarch "$U" "$F/multiarch"

# ---------------------------------------------------------------------------------------------
# fixtures/docker: schema2 manifest (written by skopeo) + a Docker manifest list over it
# ---------------------------------------------------------------------------------------------
log "docker"
D="$F/docker"
"${SKOPEO[@]}" copy -q --format v2s2 "oci:$U:v1" "oci:$D:v2s2"
fx docker-list "$D"

# ---------------------------------------------------------------------------------------------
# fixtures/artifact: image + OCI 1.1 artifact with subject + an unknown media type
# ---------------------------------------------------------------------------------------------
log "artifact"
fx artifact "$U" "$F/artifact"

# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------
LAYOUTS=(umoci skopeo containerd multiarch docker artifact)
log "validate (python: oci-layout, blob hashes, sizes, closure, no orphans)"
fx validate "${LAYOUTS[@]/#/$F/}"

# skopeo resolves only by ref.name and silently takes the first of duplicates, so check every
# entry of every layout through a copy whose entries are tagged e0, e1, ...
log "verify every index.json entry with skopeo"
for n in "${LAYOUTS[@]}"; do
    fx renamed-copy "$F/$n" "$TMP/check-$n" | while read -r ref digest mt at; do
        case "$mt" in
            application/vnd.example.unknown) continue ;;   # not something skopeo can read
            application/vnd.docker.*)
                # skopeo's oci: reader skips Docker media types, so read these through dir:
                fx dir-copy "$F/$n" "$digest" "$TMP/dir-$n-$ref"
                src="dir:$TMP/dir-$n-$ref" ;;
            *)  src="oci:$TMP/check-$n:$ref" ;;
        esac
        got="sha256:$("${SKOPEO[@]}" inspect --raw "$src" | sha256sum | cut -d' ' -f1)"
        [[ "$got" == "$digest" ]] || { echo "make-fixtures: $n $ref: skopeo read $got, expected $digest" >&2; exit 1; }
        # full inspect (config parsed, platform chosen) for images; skopeo refuses artifacts
        [[ "$at" != "-" ]] || "${SKOPEO[@]}" --override-os linux --override-arch amd64 inspect "$src" >/dev/null
    done
done
# platform descent through the index / nested index / manifest list, by skopeo
check_arch() {   # SRC ARCH [VARIANT]
    local opts=(--override-os linux --override-arch "$2")
    [[ -z "${3:-}" ]] || opts+=(--override-variant "$3")
    "${SKOPEO[@]}" "${opts[@]}" inspect "$1" \
        | python3 -c 'import json,sys; a=json.load(sys.stdin)["Architecture"]; assert a==sys.argv[1], a' "$2"
}
check_arch "oci:$TMP/check-multiarch:e0" amd64
check_arch "oci:$TMP/check-multiarch:e0" arm64 v8
check_arch "oci:$TMP/check-multiarch:e1" amd64      # skopeo 1.9.3 descends outer -> inner -> manifest
check_arch "oci:$TMP/check-multiarch:e1" arm64 v8
check_arch "dir:$TMP/dir-docker-e1" amd64

fx readme "$F" "${LAYOUTS[@]}"
log "done: $(find "$F" -type f -printf '%s\n' | awk '{s+=$1} END {print s}') bytes in $(find "$F" -type f | wc -l) files under $F"
cat "$F/README.md"

#!/usr/bin/env bash
# Builds every artifact of a release for this machine's platform into dist/:
#
#   mailtape-VERSION-PLATFORM            the stripped binary (and a .tar.gz of it)
#   mailtape-VERSION-py3-none-TAG.whl    the Python wheel: the binary and the pytest plugin
#   mailtape-VERSION.tgz                 the npm package (bin launcher, startMailtape, types)
#   mailtape-PLATFORM-VERSION.tgz        the npm platform package @mailtape/PLATFORM (the binary)
#   SHA256SUMS
#
#   bash packaging/build.sh                      # cargo build --release, then maturin for the wheel
#   bash packaging/build.sh --binary target/debug/mailtape   # package a binary already built
#                                                 # (stripped copy; wheel by packaging/python/wheel.py)
#   bash packaging/build.sh --out DIR            # somewhere else than dist/
#
# Needs: cargo (unless --binary), python3, npm; maturin is pip-installed when
# missing. The release workflow (.github/workflows/release.yml) runs this on
# each platform. See packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=dist
binary=
while [ $# -gt 0 ]; do
    case $1 in
        --binary) binary=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

# The platform as npm names it (process.platform-process.arch).
case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) platform=linux-x64 ;;
    Linux-aarch64|Linux-arm64) platform=linux-arm64 ;;
    Darwin-x86_64) platform=darwin-x64 ;;
    Darwin-arm64) platform=darwin-arm64 ;;
    MINGW*-x86_64|MSYS*-x86_64|CYGWIN*-x86_64) platform=win32-x64 ;;
    *) echo "build.sh: no npm platform name for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
exe=mailtape; [ "$platform" = win32-x64 ] && exe=mailtape.exe
rm -f "$out"/mailtape-* "$out"/SHA256SUMS

# 1. The binary, stripped.
if [ -z "$binary" ]; then
    echo "== cargo build --release (profile.release: no debug info, stripped)"
    cargo build --release --locked --bin mailtape
    binary=target/release/$exe
fi
cp "$binary" "$out/mailtape-$version-$platform${exe#mailtape}"
bin="$out/mailtape-$version-$platform${exe#mailtape}"
if [ "$platform" != win32-x64 ]; then
    strip "$bin" 2>/dev/null || strip -x "$bin"   # macOS strip takes -x for a binary
fi
chmod 755 "$bin"
tar -C "$out" -czf "$out/mailtape-$version-$platform.tar.gz" "$(basename "$bin")"

# 2. The wheel.
if [ "$binary" = "target/release/$exe" ] && [ -z "${MAILTAPE_NO_MATURIN:-}" ]; then
    command -v maturin >/dev/null || python3 -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2"
    echo "== maturin build --release (bindings = \"bin\"; reuses target/release)"
    # from its folder: maturin reads pyproject.toml there, which points at the root crate
    (cd packaging/python && maturin build --release --locked --out "$out")
else
    echo "== packaging/python/wheel.py (around $binary)"
    python3 packaging/python/wheel.py --binary "$bin" --version "$version" --out "$out" >/dev/null
fi

# 3. The npm packages: the platform's binary, and the package that picks it.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/platform/bin"
cp "$bin" "$stage/platform/bin/$exe"
os=${platform%-*}; cpu=${platform#*-}
cat > "$stage/platform/package.json" <<JSON
{
  "name": "@mailtape/$platform",
  "version": "$version",
  "description": "The mailtape binary for $os $cpu (installed by the mailtape package)",
  "license": "MIT OR Apache-2.0",
  "os": ["$os"],
  "cpu": ["$cpu"],
  "files": ["bin/$exe"],
  "preferUnplugged": true
}
JSON
printf '# @mailtape/%s\n\nThe `mailtape` binary for %s %s. Install `mailtape`, which picks this package\nthrough its optionalDependencies.\n' \
    "$platform" "$os" "$cpu" > "$stage/platform/README.md"
cp -R packaging/npm/mailtape "$stage/main"
# versions from Cargo.toml, for the package and every platform package it names
node -e '
const fs = require("fs"), [file, v] = process.argv.slice(1);
const p = JSON.parse(fs.readFileSync(file));
p.version = v;
for (const k of Object.keys(p.optionalDependencies)) p.optionalDependencies[k] = v;
fs.writeFileSync(file, JSON.stringify(p, null, 2) + "\n");
' "$stage/main/package.json" "$version"
(cd "$stage/platform" && npm pack --silent --pack-destination "$out" >/dev/null)
(cd "$stage/main" && npm pack --silent --pack-destination "$out" >/dev/null)

# 4. Checksums.
(cd "$out" && sha256sum mailtape-* > SHA256SUMS 2>/dev/null || shasum -a 256 mailtape-* > SHA256SUMS)
echo "== $out"
(cd "$out" && ls -l mailtape-* SHA256SUMS | awk '{printf "%12d  %s\n", $5, $9}')

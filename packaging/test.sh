#!/usr/bin/env bash
# The packages as a user gets them (CI runs this): builds the wheel and the
# npm packages from the checkout around the binary already built (no
# compile), then, with no Rust on PATH, installs each into a fresh
# virtualenv / a fresh npm project and runs there `mailtape --version`, the
# pytest plugin's suite (examples/python: smtplib over SMTP, Resend's Python
# SDK over REST) and the npm helper's (packaging/npm/test: nodemailer,
# Resend's Node SDK), with `node --test`.
#
#   bash packaging/test.sh [BINARY]      # default target/debug/mailtape
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
binary=${1:-target/debug/mailtape}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

echo "== packaging/build.sh --binary $binary"
bash packaging/build.sh --binary "$binary" --out "$work/dist"
wheel=$(ls "$work"/dist/mailtape-*.whl)
npm_main=$(ls "$work"/dist/mailtape-[0-9]*.tgz)
npm_platform=$(ls "$work"/dist/mailtape-[a-z]*-[0-9]*.tgz)   # @mailtape/PLATFORM

# No Rust from here on: cargo, rustc and rustup leave PATH, and the tests
# must not find the checkout's binary either.
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e '\.cargo' -e rustup | paste -sd: -)
export PATH
unset CARGO_HOME RUSTUP_HOME MAILTAPE MAILTAPE_BINARY MAILTAPE_UI
for tool in cargo rustc rustup; do
    if command -v "$tool" >/dev/null; then echo "test.sh: $tool is still on PATH" >&2; exit 1; fi
done
echo "== no cargo, rustc or rustup on PATH"

echo "== Python: a fresh virtualenv, pip install the wheel"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" "pytest>=7" "resend>=2.52,<3"
(
    cd "$work" && export PATH="$work/venv/bin:$PATH"
    mailtape --version
    test "$(command -v mailtape)" = "$work/venv/bin/mailtape"
    python -c 'import mailtape; print("mailtape.binary() =", mailtape.binary())'
    mkdir pytest && cp "$root"/examples/python/test_*.py pytest/
    # the plugin comes from the wheel's pytest11 entry point: no conftest
    python -m pytest -q -p no:cacheprovider pytest
)

echo "== Node: a fresh npm project, npm install the two packages"
mkdir "$work/node"
(
    cd "$work/node"
    npm init -y >/dev/null
    npm pkg set type=module >/dev/null
    npm install --no-audit --no-fund --loglevel=error "$npm_platform" "$npm_main" "nodemailer@^10.6.0" "resend@^6.38.0"
    npx --no-install mailtape --version
    cp "$root"/packaging/npm/test/*.test.mjs .
    node --test
)
echo "== packaging/test.sh: $((SECONDS - started)) s"

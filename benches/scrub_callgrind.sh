#!/usr/bin/env bash
# The cost of redaction alone, in instructions per byte (callgrind), for two
# versions of src/tape/ side by side — without a release build of the whole
# crate: the redaction files (keys, encoded, redact, printable, params,
# references) are built
# alone with the driver of examples/scrub_cost.rs.
#
#   bash benches/scrub_callgrind.sh                # HEAD~0 against main
#   bash benches/scrub_callgrind.sh OLD_REV NEW_REV
#
# Each case is run with and without the scrubbing; the difference is the
# scrubbing's (building the input and the checks cancel out).
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:-main}
new=${2:-HEAD}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src/tape"
cp Cargo.lock "$dir/"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "scrubbench"
version = "0.1.0"
edition = "2024"
publish = false
[dependencies]
base64 = "0.22"
memchr = "2"
ring = "0.17"
[[bin]]
name = "old"
path = "src/old_main.rs"
[[bin]]
name = "new"
path = "src/new_main.rs"
[profile.release]
debug = 1
TOML
sed 's/^use mailtape::tape::redact::{scrub, scrub_message};/use crate::tape::redact::{scrub, scrub_message};/; /^\/\/!/d' \
    examples/scrub_cost.rs > "$dir/src/driver.rs"
for v in old new; do
    rev=$([ $v = old ] && echo "$old" || echo "$new")
    mkdir -p "$dir/src/$v"
    for f in encoded redact keys printable params references; do
        # params and references came later: empty for older revisions.
        git show "$rev:src/tape/$f.rs" > "$dir/src/$v/$f.rs" 2>/dev/null || : > "$dir/src/$v/$f.rs"
    done
    cat > "$dir/src/${v}_main.rs" <<RS
#![allow(dead_code, unused_imports)]
mod tape {
    #[path = "../$v/encoded.rs"]
    mod encoded;
    #[path = "../$v/keys.rs"]
    pub(crate) mod keys;
    #[path = "../$v/printable.rs"]
    pub mod printable;
    #[path = "../$v/redact.rs"]
    pub mod redact;
    #[path = "../$v/params.rs"]
    mod params;
    #[path = "../$v/references.rs"]
    pub(crate) mod references;
    pub mod transcript {
        pub const MAX_KEPT_BODY: usize = 64 * 1024;
    }
}
include!("driver.rs");
RS
done
(cd "$dir" && CARGO_TARGET_DIR="${SCRUB_TARGET:-$dir/target}" cargo build --release --offline -q)
bin=${SCRUB_TARGET:-$dir/target}/release
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | grep -oE 'refs: +[0-9,]+' | tr -d ', ' | cut -d: -f2; }
printf "%-8s %14s %14s\n" case "$old" "$new"
for c in base64 text qp keys lines; do
    row=()
    for v in old new; do
        a=$(count "$bin/$v" $c build); b=$(count "$bin/$v" $c scrub)
        n=$("$bin/$v" $c build | awk '{print $1}')
        row+=("$(awk -v d=$((b - a)) -v n="$n" 'BEGIN{printf "%.2f", d/n}')")
    done
    unit=$([ $c = lines ] && echo "per line" || echo "per byte")
    printf "%-8s %14s %14s  %s\n" $c "${row[0]}" "${row[1]}" "$unit"
done

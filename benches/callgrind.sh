#!/usr/bin/env bash
# Instructions (callgrind) of the whole mock or record process for 1,000 messages of
# 1 KiB over 20 connections (50 each), from start to SIGINT; scenario `unlimited`
# (the default account allows 5 sends a second, as Resend's). Counts do not move with the
# load of the machine, so a before/after within a few percent is meaningful.
#
#   bash benches/callgrind.sh mock      # prints "mock: N instructions"
#   bash benches/callgrind.sh record    # record in front of a quiet mock (not measured)
#   bash benches/callgrind.sh mock --json            # the mock with a live view (to /dev/null)
#   bash benches/callgrind.sh mock human             # the human view (NO_COLOR=1)
#   MAILTAPE=other/mailtape bash benches/callgrind.sh mock   # another build
#
# The binary is the `profiling` profile's (`cargo build --profile profiling`):
# the release build with symbols and line tables, so callgrind_annotate names
# functions; the shipped `release` profile is stripped (issue 21).
set -euo pipefail
cd "$(dirname "$0")/.."
# The inbox is off: benchmarks measure SMTP, and port 8025 may be taken.
export MAILTAPE_UI=${MAILTAPE_UI:-off}
mode=${1:-mock}
view=${2:---quiet}
# `human`: the human view (no flag), plain text.
flags=("$view"); [ "$view" = human ] && flags=() && export NO_COLOR=1
bin=${MAILTAPE:-target/profiling/mailtape}
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] && cp "$out/cg" "$KEEP"; rm -rf "$out"' EXIT
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
off=(--smtps off --starttls off)
if [ "$mode" = record ]; then
    $bin mock --quiet --scenario unlimited --plain 127.0.0.1:3725 "${off[@]}" >/dev/null &
    wait_port 3725
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        $bin record "${flags[@]}" --plain 127.0.0.1:3726 "${off[@]}" --tape "$out/all.tape" \
        --upstream 127.0.0.1:3725 --upstream-tls none >/dev/null 2>"$out/vg" &
else
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        $bin mock "${flags[@]}" --scenario unlimited --plain 127.0.0.1:3726 "${off[@]}" >/dev/null 2>"$out/vg" &
fi
pid=$!
wait_port 3726
$bin bench --port 3726 --connections 20 --messages 1000 --per-connection 50 >/dev/null
kill -INT $pid
wait $pid || true
printf "%s %s: %s instructions\n" "$mode" "$view" "$(grep -E '^summary:' "$out/cg" | awk "{print \$2}")"

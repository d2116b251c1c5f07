#!/usr/bin/env bash
# The side-by-side benchmark: mailtape mock and record against smtp-sink
# (Postfix) and aiosmtpd, on loopback, with mailtape's own load generator.
#
#   bash benches/compare.sh            # installs the peers, builds, runs, prints the tables
#   ROUNDS=5 bash benches/compare.sh   # more rounds
#   bash benches/compare.sh live       # only what watching costs: the mock --quiet,
#                                      # --json drained and the human view drained
#                                      # (benches/live_view.py), with write/futex counts
#
# Never starts Postfix itself: only its smtp-sink test server.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = live ]; then
    cargo build --profile profiling --quiet
    exec python3 benches/live_view.py
fi
export DEBIAN_FRONTEND=noninteractive
if ! command -v smtp-sink >/dev/null; then
    apt-get update -qq
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get install -y -qq postfix >/dev/null
fi
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
cargo build --profile profiling --quiet
cargo build --profile profiling --quiet --example relay_floor
# 10,000 idle connections need as many file descriptors, on both sides.
ulimit -n "$(ulimit -Hn)"
python3 benches/compare.py "$@"
echo
echo "What watching costs (the live view):"
python3 benches/live_view.py
echo
echo "The inbox:"
# The inbox: --ui with a live subscriber vs --ui off, list API latency, memory.
python3 benches/inbox.py

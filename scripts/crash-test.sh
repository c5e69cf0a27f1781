#!/usr/bin/env bash
# The long crash test, for hand runs: the runner killed with SIGKILL at random moments many times
# in a row; after every kill every final output is checked (decoded and compared), the state must
# load, and a last run must finish everything with no temp file left.
# usage: scripts/crash-test.sh [KILLS]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNNER_CRASH_KILLS=${1:-200} cargo test --release --test integration crash -- --nocapture

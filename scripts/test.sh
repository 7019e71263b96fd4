#!/usr/bin/env bash
# Runs berth's tests (compiled to dist/ by `npm run build`). Needs root: tests
# really mount, mknod and run dockerd/podman/skopeo/umoci.
#   scripts/test.sh          every test (unit + integration + interop with the peers)
#   scripts/test.sh unit     only tests that need no peers
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "berth tests need root (they mount overlayfs, mknod, run dockerd)" >&2; exit 1; fi
mode=${1:-all}
if [ "$mode" = all ]; then
  scripts/install-deps.sh
  scripts/fixtures.sh >/dev/null
fi
# the longest file (store/crash: every store command killed at many points, ~13 min) first, so that
# the other files share the second slot meanwhile instead of leaving it idle at the end
files=$(find dist/test -name '*.test.js' | sort | awk '/\/store\/crash\.test\.js$/ { print; next } { rest = rest $0 "\n" } END { printf "%s", rest }')
if [ "$mode" = unit ]; then files=$(echo "$files" | grep -v '/interop/' || true); fi
exec node --test --test-concurrency=2 $files

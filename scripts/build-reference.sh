#!/usr/bin/env bash
# Build the Dockerfile corpus (test/builder/corpus/) on a private dockerd 20.10 with the legacy builder
# and write what Docker made, per case, to OUT (default /work/build-docker-ref): build output,
# history, image config, layer listings. See test/helpers/build-reference.ts.
#   scripts/build-reference.sh [OUT [CASE...]]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f dist/test/helpers/build-reference.js ]; then echo "build first: npx tsc -p tsconfig.json" >&2; exit 1; fi
exec node dist/test/helpers/build-reference.js "${1:-/work/build-docker-ref}" "${@:2}"

#!/usr/bin/env bash
# Bundles the CLI after tsc (npm run build): one ESM file (dist/berth.mjs), the layer-apply worker
# (dist/apply-worker.js), and a V8 start-up snapshot of the CLI (dist/berth.blob) that bin/berth
# runs when it exists. The snapshot bakes in this checkout's path (to find native/ and the worker).
set -euo pipefail
cd "$(dirname "$0")/.."
esb=node_modules/.bin/esbuild
common=(--bundle --platform=node --target=node20 --log-level=warning)
"$esb" src/cli/entry.ts "${common[@]}" --format=esm --outfile=dist/berth.mjs
"$esb" src/archive/apply-worker.ts "${common[@]}" --format=esm --outfile=dist/apply-worker.js
"$esb" src/cli/snapshot.ts "${common[@]}" --format=cjs --outfile=dist/berth-snapshot.cjs \
  --define:import.meta.url=__berth_url --banner:js="var __berth_url = \"file://$PWD/dist/berth.cjs\";"
rm -f dist/berth.blob
if ! (cd dist && node --snapshot-blob berth.blob.tmp --build-snapshot berth-snapshot.cjs 2>/dev/null && mv berth.blob.tmp berth.blob); then
  echo "berth: could not build the start-up snapshot; bin/berth runs the ESM bundle instead" >&2
fi

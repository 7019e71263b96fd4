#!/usr/bin/env bash
# Builds (once) and caches the rootfs tarballs tests and benchmarks use:
#   .cache/fixtures/debootstrap-bookworm.tar   ~200 MB, ~6.7k files (debootstrap --variant=minbase)
# Prints the path of each fixture. Safe to run concurrently (flock) and after an interrupt.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/fixtures
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
out="$dir/debootstrap-bookworm.tar"
if [ ! -s "$out" ]; then
  tmp=$(mktemp -d /var/tmp/berth-debootstrap.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "berth: debootstrap --variant=minbase bookworm (a few minutes, once)" >&2
  debootstrap --variant=minbase bookworm "$tmp/rootfs" "${mirror:-http://deb.debian.org/debian}" >"$tmp/log" 2>&1 || { tail -20 "$tmp/log" >&2; exit 1; }
  rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"*
  tar --numeric-owner --xattrs -C "$tmp/rootfs" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
fi
echo "$out"

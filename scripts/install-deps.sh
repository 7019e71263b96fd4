#!/usr/bin/env bash
# Installs the Debian packages berth's tests, interop checks and benchmarks use.
# Idempotent: packages already present are skipped. Needs root and Debian's apt.
# --native: only what `npm install` needs: what the native module links, and what a container on the default
# bridge network needs (the CNI plugins, iptables). npm install runs this before node-gyp.
set -euo pipefail
native=(libzstd-dev libdeflate-dev containernetworking-plugins iptables)
pkgs=(docker.io skopeo umoci podman buildah runc busybox-static debootstrap hyperfine zstd docker-registry apache2-utils uidmap tmux bsdutils attr libseccomp-dev aardvark-dns "${native[@]}")
if [ "${1:-}" = --native ]; then pkgs=("${native[@]}"); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "berth: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's docker.io starts its own service on some hosts; berth's tests start their own dockerd.

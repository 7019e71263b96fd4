#!/usr/bin/env bash
# `run --rm IMAGE true` on the bridge and with --network none, berth vs a private dockerd (Debian's docker.io)
# whose default bridge is its own bbench0 (dockerd -b; --iptables=false, so the host's firewall is left alone:
# a container without -p gets no per-container rule from dockerd anyway). Needs root and hyperfine.
#   bench/bridge-run.sh [RUNS]
# Everything it makes (the berth root, dockerd, its data root, bbench0) is removed at exit.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-20}
work=$(mktemp -d /var/tmp/berth-bridge-bench.XXXXXX)
name=berth-bridge-bench-$$
R=$work/berth
D="docker -H unix:///run/$name.sock"
cleanup() {
  "$REPO/scripts/dockerd.sh" stop "$name" >/dev/null 2>&1 || true
  ip link del bbench0 2>/dev/null || true
  awk -v w="$work" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work" "/run/$name" "/run/$name.log"
}
trap cleanup EXIT
"$REPO/bin/berth" --root "$R" image from-host web busybox >/dev/null
ip link add bbench0 type bridge
ip addr add 172.30.0.1/16 dev bbench0
ip link set bbench0 up
mkdir -p "/run/$name" "$work/docker"
dockerd --iptables=false --ip6tables=false --bridge=bbench0 --ip-forward=false --ip-masq=false \
  -H "unix:///run/$name.sock" --data-root "$work/docker" --exec-root "/run/$name" -p "/run/$name.pid" \
  --containerd-namespace "$name" --storage-driver overlay2 >"/run/$name.log" 2>&1 &
for _ in $(seq 1 200); do $D version >/dev/null 2>&1 && break; sleep 0.1; done
"$REPO/bin/berth" --root "$R" save web | $D load >/dev/null
$D run --rm --pull never --network bridge web busybox true # first run: dockerd sets up its network
hyperfine -N --warmup 3 --runs "$RUNS" \
  -n 'berth none' "$REPO/bin/berth --root $R run --rm --network none web busybox true" \
  -n 'berth bridge' "$REPO/bin/berth --root $R run --rm --network bridge web busybox true" \
  -n 'docker none' "$D run --rm --pull never --network none web busybox true" \
  -n 'docker bridge' "$D run --rm --pull never --network bridge web busybox true"

#!/usr/bin/env bash
# Start or stop a private dockerd (Debian's docker.io) for interop tests and benchmarks.
#   scripts/dockerd.sh start NAME DATA_ROOT   -> prints the DOCKER_HOST to use
#   scripts/dockerd.sh stop NAME
# It never touches the host's default dockerd: socket, pid and exec-root are /run/NAME*.
set -euo pipefail
cmd=${1:?start|stop}; name=${2:?name}
sock=/run/$name.sock
case "$cmd" in
start)
  root=${3:?data root}
  mkdir -p "$root" "/run/$name"
  dockerd --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
    -H "unix://$sock" --data-root "$root" --exec-root "/run/$name" -p "/run/$name.pid" \
    --containerd-namespace "$name" --storage-driver overlay2 >"/run/$name.log" 2>&1 &
  for _ in $(seq 1 200); do
    if DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; then echo "unix://$sock"; exit 0; fi
    sleep 0.1
  done
  echo "dockerd $name did not start; log:" >&2; tail -20 "/run/$name.log" >&2; exit 1 ;;
stop)
  if [ -f "/run/$name.pid" ]; then
    pid=$(cat "/run/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # containerd started by dockerd exits with it; unmount anything left under its roots
  awk -v n="/run/$name" '$2 ~ "^"n {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -f "/run/$name.pid" "$sock" ;;
*) echo "usage: $0 start|stop NAME [DATA_ROOT]" >&2; exit 2 ;;
esac

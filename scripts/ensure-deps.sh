#!/usr/bin/env bash
# ensure-deps.sh [build|test] — installs, with apt-get, the Debian packages the
# build (and the tests) need when they are missing. Does nothing when all are there.
set -euo pipefail
want=(cmake gcc make pkg-config)
[ "${1:-build}" = test ] && want+=(python3)
missing=()
for t in "${want[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
[ "${1:-build}" = test ] && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && missing+=(python3-venv)
# libgomp comes with gcc; the OpenMP header check catches a stripped toolchain
echo '#include <omp.h>' | gcc -fopenmp -E -x c - >/dev/null 2>&1 || missing+=(libgomp1)
# jansson parses safetensors headers and model configs
pkg-config --exists jansson 2>/dev/null || missing+=(libjansson-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=()
for m in "${missing[@]}"; do
  case "$m" in
    gcc|make) pkgs+=(build-essential) ;;
    python3) pkgs+=(python3 python3-venv) ;;
    *) pkgs+=("$m") ;;
  esac
done
echo "ensure-deps: installing ${pkgs[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}"

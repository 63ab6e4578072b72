#!/usr/bin/env bash
# Builds test/windows/build/bcryptprimitives.dll (see processprng.c) with MinGW-w64.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p build
x86_64-w64-mingw32-gcc -shared -O2 -s -o build/bcryptprimitives.dll processprng.c processprng.def -ladvapi32

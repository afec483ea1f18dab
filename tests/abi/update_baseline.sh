#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates tests/abi/libqnt.so.1.abi, the ABI baseline check_abi.sh
# compares against, from a build of the current tree. Run it at a release
# (or after an intended, compatible ABI change), review the diff and commit
# it. The build must carry debug information (buildtype debug or
# debugoptimized, the default).
# Usage: tests/abi/update_baseline.sh [BUILDDIR]   (default: <repo>/build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
lib=$build/lib/libqnt.so

command -v abidw >/dev/null 2>&1 || { echo "abidw not found (install abigail-tools)"; exit 1; }
meson compile -C "$build" lib/qnt:shared_library >/dev/null
[ -e "$lib" ] || { echo "no $lib"; exit 1; }
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
	echo "$lib has no debug information: configure with buildtype debug or debugoptimized"
	exit 1
fi
# The same options as check_abi.sh (see there for --exported-interfaces-only),
# and no absolute paths: the file must not depend on where the tree was built.
abidw --headers-dir "$repo/include" --drop-private-types --exported-interfaces-only --no-corpus-path --no-comp-dir-path --short-locs \
	--out-file "$here/libqnt.so.1.abi" "$lib"
echo "wrote $here/libqnt.so.1.abi from $(readlink -f "$lib")"

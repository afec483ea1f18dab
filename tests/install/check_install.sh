#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds an engine-like
# program against it twice: through pkg-config (shared) and statically
# (pkg-config --static). Then runs both.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DESTDIR="$tmp/root" meson install -C "$build" --quiet --no-rebuild >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
root="$tmp/root$prefix"
pc=$(dirname "$(find "$root" -name libqnt.pc | head -n 1)")
[ -n "$pc" ] || { echo "FAIL: libqnt.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
for h in libqnt.h libqnt_backend.h; do
	[ -f "$root/include/$h" ] || { echo "FAIL: include/$h was not installed"; exit 1; }
done
libdir=$(dirname "$(find "$root" -name 'libqnt.so.1' | head -n 1)")
soname=$(readelf -d "$libdir/libqnt.so.1" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libqnt.so.1" ] || { echo "FAIL: SONAME is '$soname'"; exit 1; }
[ -f "$libdir/libqnt.a" ] || { echo "FAIL: static library not installed"; exit 1; }
if [ -f "$build/backends/vulkan/libqnt-vulkan.so" ]; then
	[ -f "$libdir/libqnt-1/libqnt-vulkan.so" ] || { echo "FAIL: libqnt-1/libqnt-vulkan.so was not installed"; exit 1; }
fi
if [ -f "$build/backends/cuda/libqnt-cuda.so" ]; then
	[ -f "$libdir/libqnt-1/libqnt-cuda.so" ] || { echo "FAIL: libqnt-1/libqnt-cuda.so was not installed"; exit 1; }
fi
cc $(pkg-config --cflags libqnt) "$src/examples/quantize_tensor.c" -o "$tmp/shared" $(pkg-config --libs libqnt) -lm
LD_LIBRARY_PATH="$libdir" "$tmp/shared" q8_0 4 256 | grep -q '^q8_0: 4 x 256 floats'
cc $(pkg-config --cflags libqnt) "$src/examples/quantize_tensor.c" -o "$tmp/static" \
	"$libdir/libqnt.a" $(pkg-config --static --libs-only-other --libs-only-L libqnt) \
	$(pkg-config --static --libs libuv jansson | sed 's/-lqnt//') -ldl -lm -lpthread
ldd "$tmp/static" | grep -q libqnt && { echo "FAIL: the static build still links libqnt.so"; exit 1; }
"$tmp/static" q4_1 2 64 | grep -q '^q4_1: 2 x 64 floats'
echo "install: headers, libqnt.pc, SONAME libqnt.so.1, shared and static builds of an example: ok"

#!/bin/sh
# SPDX-License-Identifier: MIT
# The dynamic symbols libqnt.so defines are exactly the names listed in the
# global section of lib/libqnt.map (no more, no less), all of them public
# qnt_ names (never a qnt__ internal), and the SONAME is libqnt.so.1.
# Usage: check_symbols.sh LIBQNT_SO LIBQNT_MAP
set -eu
lib=$1
map=$2
for tool in nm readelf; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

status=0

# "T name" lines; symbol versions (name@VER) would show up as a failure too
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sort >"$tmp/exported"
# names between "global:" and "local:", one "name;" per line
awk '/global:/ { g = 1; next } /local:/ { g = 0 }
     g && /^[ \t]*[^ \t\/#*][^ \t]*;/ { sub(/^[ \t]+/, ""); sub(/;.*/, ""); print }' "$map" | sort >"$tmp/listed"

if [ ! -s "$tmp/listed" ]; then
	echo "FAIL: no names found in the global section of $map"
	exit 1
fi
if grep -n '[*?]' "$tmp/listed"; then
	echo "FAIL: $map uses a wildcard in its global section (list each name)"
	status=1
fi
if [ "$(uniq -d "$tmp/listed")" ]; then
	echo "FAIL: $map lists names twice:"
	uniq -d "$tmp/listed"
	status=1
fi

extra=$(comm -23 "$tmp/exported" "$tmp/listed")
missing=$(comm -13 "$tmp/exported" "$tmp/listed")
if [ -n "$extra" ]; then
	echo "FAIL: exported but not in $map:"
	echo "$extra"
	status=1
fi
if [ -n "$missing" ]; then
	echo "FAIL: in $map but not exported (not defined, or hidden):"
	echo "$missing"
	status=1
fi
bad=$(grep -v '^qnt_[a-z0-9]' "$tmp/exported" || true)
if [ -n "$bad" ]; then
	echo "FAIL: exported names outside the public qnt_ prefix:"
	echo "$bad"
	status=1
fi
bad=$(grep -v '^qnt_[a-z0-9]' "$tmp/listed" || true)
if [ -n "$bad" ]; then
	echo "FAIL: $map lists names outside the public qnt_ prefix:"
	echo "$bad"
	status=1
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" != "libqnt.so.1" ]; then
	echo "FAIL: SONAME is '$soname', expected libqnt.so.1"
	status=1
fi

if [ $status -eq 0 ]; then
	echo "ok: $(wc -l <"$tmp/exported") symbols, exactly those of $map; SONAME $soname"
fi
exit $status

#!/bin/sh
# SPDX-License-Identifier: MIT
# Compares the ABI of the freshly built libqnt.so with the committed baseline
# tests/abi/libqnt.so.1.abi (STYLE.md 3.12). Any non-zero abidiff status
# fails: a changed struct or enum gives 4 ("ABI change"), only a removed
# symbol gives 8, so a gate on 8 alone would miss real breaks. Added symbols
# are ignored (--no-added-syms; check_symbols.sh watches the export list),
# and growth at the end of the size-prefixed structs is whitelisted in
# tests/abi/libqnt.abignore.
#
# Exit 77 (skipped) when abigail-tools are missing or the library has no
# debug information, unless QNT_REQUIRE_ABI=1, which turns both into failures.
# Usage: check_abi.sh SOURCE_ROOT LIBQNT_SO
set -u
src=$1
lib=$2
baseline=$src/tests/abi/libqnt.so.1.abi
suppr=$src/tests/abi/libqnt.abignore

skip() {
	if [ "${QNT_REQUIRE_ABI:-0}" = 1 ]; then
		echo "FAIL: $1 (QNT_REQUIRE_ABI=1)"
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}

command -v abidw >/dev/null 2>&1 || skip "abidw not found (install abigail-tools)"
command -v abidiff >/dev/null 2>&1 || skip "abidiff not found (install abigail-tools)"
if command -v readelf >/dev/null 2>&1 && ! readelf -S "$lib" | grep -q '\.debug_info'; then
	skip "$lib has no debug information (build with -g: buildtype debug or debugoptimized)"
fi
if [ ! -f "$baseline" ]; then
	echo "FAIL: no baseline $baseline (tests/abi/update_baseline.sh makes one)"
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# --exported-interfaces-only: without it abidw 2.2 drops the definition of
# a public function that an earlier translation unit of the library calls
# (qnt_status_str, qnt_row_size, ...), and its signature goes unchecked.
abidw --headers-dir "$src/include" --drop-private-types --exported-interfaces-only \
	--out-file "$tmp/current.abi" "$lib"
st=$?
if [ $st -ne 0 ]; then
	echo "FAIL: abidw exited with $st"
	exit 1
fi

# Every exported function must come with its type in both dumps, or abidiff
# would compare its name only.
for dump in "$baseline" "$tmp/current.abi"; do
	sed -n "s/.*<elf-symbol name='\([^']*\)' type='func-type'.*/\1/p" "$dump" | sort -u >"$tmp/syms"
	sed -n "s/.*<function-decl .*elf-symbol-id='\([^']*\)'.*/\1/p" "$dump" | sort -u >"$tmp/decls"
	untyped=$(comm -23 "$tmp/syms" "$tmp/decls")
	if [ -n "$untyped" ]; then
		echo "FAIL: $dump has no type information for:"
		echo "$untyped"
		exit 1
	fi
done

fail() {
	echo "FAIL: $1"
	echo "(abidiff status bits: 1 error, 2 usage error, 4 ABI change, 8 incompatible change.)"
	echo "An intended change (a new minor release) needs a new baseline, reviewed:"
	echo "  tests/abi/update_baseline.sh [BUILDDIR]"
	exit 1
}

# 1. The whole report, with the growth rule of libqnt.abignore.
abidiff --no-added-syms --suppressions "$suppr" "$baseline" "$tmp/current.abi"
st=$?
[ $st -eq 0 ] || fail "abidiff exited with $st against $baseline"

# 2. The same per leaf type. In the whole report a struct that matches the
# growth rule hides every change below it (a member inserted in the middle
# of qnt_kernel_job, reached through qnt_backend_vtbl, went unreported);
# reported per leaf, each changed type is judged on its own.
abidiff --leaf-changes-only --no-added-syms --suppressions "$suppr" "$baseline" "$tmp/current.abi"
st=$?
[ $st -eq 0 ] || fail "abidiff --leaf-changes-only exited with $st against $baseline"

# 3. Without the rule: every leaf change must be one of the size-prefixed
# structs growing by members appended at or after its old size, and nothing
# else. This catches what the rule lets through: a member whose type changes
# while nothing is inserted (libabigail suppresses the whole struct then).
abidiff --leaf-changes-only --no-added-syms "$baseline" "$tmp/current.abi" >"$tmp/leaf.txt"
st=$?
if [ $st -ne 0 ]; then
	if ! awk -v re='^qnt_[a-z0-9_]*_(opts|props|info|vtbl|api|job|params)$' '
		function bad(why) { printf("not an append at the end: %s\n  line %d: %s\n", why, NR, $0); err = 1 }
		/^$/ { next }
		/^Leaf changes summary:/ || /^Changed leaf types summary:/ { next }
		/^Removed\/Changed\/Added (functions|variables) summary:/ {
			if ($0 !~ /: 0 Removed, 0 Changed/) bad("functions or variables removed or changed")
			next
		}
		/^\047struct [^ ]+ at .*\047 changed:$/ {
			if (inblock && !sized) bad("a struct changed without growing")
			name = $2; inblock = 1; sized = 0; old = -1
			if (name !~ re) bad("struct " name " may not change")
			next
		}
		inblock && /^  type size changed from [0-9]+ to [0-9]+ \(in bits\)$/ {
			old = $5 + 0; sized = 1; next
		}
		inblock && /^  [0-9]+ data member insertions?:$/ { next }
		inblock && /^    \047.*\047, at offset [0-9]+ \(in bits\)/ {
			off = $0; sub(/.*\047, at offset /, "", off); sub(/ .*/, "", off)
			if (old < 0 || off + 0 < old) bad("member inserted at bit " off ", before the old end " old)
			next
		}
		{ bad("unexpected change") }
		END {
			if (inblock && !sized) bad("a struct changed without growing")
			exit err
		}' "$tmp/leaf.txt"; then
		cat "$tmp/leaf.txt"
		fail "a change that the growth rule of libqnt.abignore does not allow"
	fi
	echo "allowed growth at the end of size-prefixed structs:"
	grep "^'struct" "$tmp/leaf.txt"
fi

echo "ok: no ABI change against $baseline"
exit 0

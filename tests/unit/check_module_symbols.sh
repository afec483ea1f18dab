#!/bin/sh
# SPDX-License-Identifier: MIT
# A backend module exports exactly qnt_backend_entry and does not depend on
# libqnt (it reaches the library only through the host table).
# Usage: check_module_symbols.sh MODULE.so
set -eu
mod=$1
command -v nm >/dev/null 2>&1 || { echo "nm not found"; exit 77; }
command -v readelf >/dev/null 2>&1 || { echo "readelf not found"; exit 77; }

defined=$(nm -D --defined-only "$mod" | awk 'NF >= 3 { print $3 }' | sort)
if [ "$defined" != "qnt_backend_entry" ]; then
	echo "FAIL: $mod exports:"
	echo "$defined"
	exit 1
fi
undef_qnt=$(nm -D --undefined-only "$mod" | awk '{ print $NF }' | grep '^qnt_' || true)
if [ -n "$undef_qnt" ]; then
	echo "FAIL: $mod needs libqnt symbols:"
	echo "$undef_qnt"
	exit 1
fi
if readelf -d "$mod" | grep NEEDED | grep -q 'libqnt'; then
	echo "FAIL: $mod links libqnt:"
	readelf -d "$mod" | grep NEEDED
	exit 1
fi
echo "ok: $mod exports only qnt_backend_entry and does not link libqnt"

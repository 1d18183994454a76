#!/usr/bin/env bash
# Dumps the King James Bible (public domain) from Debian's bible-kjv-text package as one verse a
# line ("Ge1:1 In the beginning ..."). The package stores the text in its own compressed format,
# so its reader (bible-kjv, GPL-2, x86-64/arm64 Debian binary) does the decoding; we only use its output.
# Usage: tools/demo-model/prepare-kjv.sh [OUT_FILE]   (default .demo-data/kjv-verses.txt)
set -euo pipefail
out="${1:-.demo-data/kjv-verses.txt}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"
(
  cd "$work"
  apt-get download bible-kjv-text bible-kjv >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get download bible-kjv-text bible-kjv >/dev/null; }
  for deb in ./*.deb; do dpkg -x "$deb" root; done
)
# -f turns pretty-printing off: one verse a line, prefixed by its reference.
"$work/root/usr/bin/bible" -f -p "$work/root/usr/lib" 'gen1:1-rev22:21' >"$out"
verses="$(wc -l <"$out")"
[ "$verses" -eq 31102 ] || { echo "expected 31102 verses, got $verses" >&2; exit 1; }
echo "$out: $verses verses, $(wc -c <"$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16)"

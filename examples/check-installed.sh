#!/bin/sh
# Install libmia into a scratch DESTDIR, then build every example with
#   cc EXAMPLE.c $(pkg-config --cflags --libs libmia)
# against the installed headers, library and libmia.pc only, and run the first one (the others
# already run in-tree as tests of their own).
set -eu
build=$1; src=$2; shift 2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions |
         python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
pcdir=$(dirname "$(find "$dest" -name libmia.pc | head -1)")
[ -n "$pcdir" ] || { echo "libmia.pc was not installed" >&2; exit 1; }
export PKG_CONFIG_PATH="$pcdir"
flags=$(pkg-config --define-variable=prefix="$dest$prefix" --cflags --libs libmia)
libdir=$(pkg-config --define-variable=prefix="$dest$prefix" --variable=libdir libmia)
for e in "$@"; do
    # shellcheck disable=SC2086
    cc -std=c11 -Wall -Wextra -Werror -o "$dest/$e" "$src/$e.c" $flags
    echo "built $e against the installed libmia"
done
LD_LIBRARY_PATH="$libdir" "$dest/$1"

#!/usr/bin/env bash
# Build a musl-linked CPython from Debian's CPython source, for the musl conformance tests (tox -e musl).
#
# usage: build-python.sh PREFIX [WORKDIR]
#   PREFIX   where the interpreter is installed; PREFIX/bin/python3 is the result
#   WORKDIR  where the source is fetched and built (default: PREFIX.build)
#
# Idempotent: exits at once when PREFIX/bin/python3 already runs and is linked against musl's loader.
# Needs root for apt (a deb-src copy of the machine's Debian source, musl-tools, make).
# The interpreter has no ssl, zlib or ctypes: musl-tools ships musl's C library only, no other C libraries.
set -euo pipefail

if [ "$#" -lt 1 ]; then
    echo "usage: $0 PREFIX [WORKDIR]" >&2
    exit 2
fi
prefix=$(realpath -m "$1")
work=$(realpath -m "${2:-$prefix.build}")
version=3.11.2
loader=/lib/ld-musl-x86_64.so.1

built() {
    [ -x "$prefix/bin/python3" ] && "$prefix/bin/python3" -c 'import sys' 2>/dev/null &&
        LC_ALL=C readelf -l "$prefix/bin/python3" 2>/dev/null | grep -q "interpreter: $loader"
}
if built; then
    echo "musl CPython already built: $prefix/bin/python3"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
need=()
command -v musl-gcc >/dev/null || need+=(musl-tools)
command -v make >/dev/null || need+=(make)
command -v readelf >/dev/null || need+=(binutils)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
# The deb-src twin of every deb source, so apt-get source works; a file of its own, written once.
srcfile=/etc/apt/sources.list.d/symlink-safe-deb-src.sources
if [ ! -e "$srcfile" ]; then
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        [ "$f" = "$srcfile" ] && continue
        sed 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' "$f"
        echo
    done | awk 'BEGIN { RS = ""; ORS = "\n\n" } /Types: deb-src/ && /debian/' >"$srcfile.tmp"
    if [ -e /etc/apt/sources.list ]; then
        sed -n 's/^deb \(.*debian.*\)$/deb-src \1/p' /etc/apt/sources.list >"${srcfile%.sources}.list.tmp"
        if [ -s "${srcfile%.sources}.list.tmp" ]; then
            mv "${srcfile%.sources}.list.tmp" "${srcfile%.sources}.list"
        else
            rm -f "${srcfile%.sources}.list.tmp"
        fi
    fi
    mv "$srcfile.tmp" "$srcfile"
    apt-get update -qq
fi
if [ "${#need[@]}" -gt 0 ]; then
    apt-get install -y -qq "${need[@]}"
fi

mkdir -p "$work"
cd "$work"
tarball=python3.11_$version.orig.tar.gz
if [ ! -s "$tarball" ]; then
    # apt then fails on the .dsc of the security suite; the upstream tarball is all this needs.
    apt-get source --download-only python3.11 >apt-source.log 2>&1 || true
    if [ ! -s "$tarball" ]; then
        echo "could not fetch $tarball with apt-get source (see $work/apt-source.log)" >&2
        exit 1
    fi
fi
rm -rf "Python-$version"
tar -xzf "$tarball"

# configure asks the compiler for its multiarch triplet; musl-gcc answers with glibc's, which
# configure rejects ("internal configure error for the platform triplet"). A wrapper answers nothing.
# setup.py adds /usr/include/x86_64-linux-gnu (glibc's headers) to the extension modules' include path
# when dpkg-architecture answers; a dpkg-architecture first on PATH that fails keeps them out.
tools="$work/tools"
rm -rf "$tools"
mkdir -p "$tools"
cat >"$tools/musl-cc" <<'WRAP'
#!/bin/sh
for a in "$@"; do
    case "$a" in -print-multiarch | --print-multiarch) exit 0 ;; esac
done
exec musl-gcc "$@"
WRAP
printf '#!/bin/sh\nexit 1\n' >"$tools/dpkg-architecture"
chmod +x "$tools/musl-cc" "$tools/dpkg-architecture"
export PATH="$tools:$PATH"

cd "Python-$version"
start=$(date +%s)
CC="$tools/musl-cc" ./configure --prefix="$prefix" --without-ensurepip --disable-test-modules \
    >"$work/configure.log" 2>&1 || {
    tail -20 "$work/configure.log" >&2
    exit 1
}
nice make -j"${MUSL_PYTHON_JOBS:-2}" >"$work/make.log" 2>&1 || {
    tail -40 "$work/make.log" >&2
    exit 1
}
nice make install >"$work/install.log" 2>&1 || {
    tail -40 "$work/install.log" >&2
    exit 1
}
echo "musl CPython $version built in $(($(date +%s) - start)) s: $prefix/bin/python3"
built || {
    echo "$prefix/bin/python3 does not run or is not linked against $loader" >&2
    exit 1
}

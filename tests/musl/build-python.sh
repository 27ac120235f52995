#!/usr/bin/env bash
# Build a musl-linked CPython from Debian's CPython source, for the musl conformance tests (tox -e musl).
#
# usage: build-python.sh PREFIX [WORKDIR]
#   PREFIX   where the interpreter is installed; PREFIX/bin/python3 is the result
#   WORKDIR  where the source is fetched and built (default: PREFIX.build)
#
# Idempotent: exits at once when PREFIX/bin/python3 already runs and is linked against musl's loader.
# Needs root for apt (a deb-src copy of the machine's Debian source, musl-tools, make).
# The interpreter has zlib (built here too) but no ssl or ctypes: musl-tools ships musl's C library only.
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
    [ -x "$prefix/bin/python3" ] && "$prefix/bin/python3" -c 'import zipfile, zlib' 2>/dev/null &&
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
command -v bzip2 >/dev/null || need+=(bzip2)
srcfile=/etc/apt/sources.list.d/symlink-safe-deb-src.sources
if [ "$(id -u)" -ne 0 ] && { [ "${#need[@]}" -gt 0 ] || [ ! -e "$srcfile" ]; }; then
    echo "$0: needs root once, to add deb-src lines ($srcfile) and install ${need[*]:-nothing else}" >&2
    exit 1
fi
# The deb-src twin of every deb source, so apt-get source works; a file of its own, written once.
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
# The release's own suite: the security suite's newer .dsc files are not always on the mirror.
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
fetch() { # source package, file it must yield
    if [ ! -s "$2" ]; then
        { [ -n "$suite" ] && apt-get source --download-only "$1/$suite"; } >>apt-source.log 2>&1 ||
            apt-get source --download-only "$1" >>apt-source.log 2>&1 || true
    fi
    if [ ! -s "$2" ]; then
        echo "could not fetch $2 with apt-get source $1 (see $work/apt-source.log)" >&2
        exit 1
    fi
}
tarball=python3.11_$version.orig.tar.gz
zlib_tarball=zlib_1.2.13.dfsg.orig.tar.bz2
fetch python3.11 "$tarball"
fetch zlib "$zlib_tarball"
rm -rf "Python-$version" zlib-1.2.13.dfsg zlib
tar -xzf "$tarball"
tar -xjf "$zlib_tarball"

# musl-tools brings musl's C library only. zlib, built here for musl, gives CPython its zlib module, which
# pip needs (urllib3 imports it); ssl, ctypes and the rest stay out.
# (set -e does not apply inside a list joined by ||, hence the &&.)
(
    cd zlib-1.2.13.dfsg &&
        CC=musl-gcc CFLAGS="-O2 -fPIC" ./configure --static --prefix="$work/zlib" >"$work/zlib.log" 2>&1 &&
        nice make -j"${MUSL_PYTHON_JOBS:-2}" libz.a >>"$work/zlib.log" 2>&1 &&
        make install >>"$work/zlib.log" 2>&1
) || {
    tail -20 "$work/zlib.log" >&2
    exit 1
}

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
# pkg-config describes glibc's libraries (zlib, uuid, tirpc): with it, configure enables modules whose
# headers musl-gcc cannot see, and they fail to build (binascii, which zipfile needs, for want of
# zlib.h). A pkg-config that knows no package lets configure's own header checks decide.
mkdir -p "$tools/no-pkgconfig"
export PKG_CONFIG_LIBDIR="$tools/no-pkgconfig" PKG_CONFIG_PATH=

cd "Python-$version"
start=$(date +%s)
CC="$tools/musl-cc" ZLIB_CFLAGS="-I$work/zlib/include" ZLIB_LIBS="-L$work/zlib/lib -lz" ./configure --prefix="$prefix" --without-ensurepip --disable-test-modules \
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

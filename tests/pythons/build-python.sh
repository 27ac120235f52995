#!/usr/bin/env bash
# Build a CPython from Debian's CPython source, for the tests that need an interpreter this machine has not got:
# the musl-linked CPython of tox -e musl, the free-threaded CPython 3.13t of tox -e freethreaded.
#
# usage: build-python.sh [--suite SUITE] [--python X.Y] [--libc glibc|musl] [--disable-gil] PREFIX [WORKDIR]
#   --suite SUITE   the Debian release whose source is built (default: this machine's, e.g. bookworm)
#   --python X.Y    the CPython series, i.e. the source package pythonX.Y (default: the suite's own,
#                   bookworm 3.11, trixie 3.13)
#   --libc LIBC     glibc (default, the system compiler) or musl (musl-gcc, with zlib built for musl)
#   --disable-gil   the free-threaded build (PEP 703): ABI flag t, interpreter pythonX.Yt
#   PREFIX          where the interpreter is installed; PREFIX/bin/pythonX.Y (pythonX.Yt) is the result,
#                   and PREFIX/bin/python3 as make install links it
#   WORKDIR         where the source is fetched and built (default: PREFIX.build)
#
# Idempotent: exits at once when the prefix already holds a working interpreter of that series, libc and GIL
# mode, so CI builds each one once per machine. Needs root the first time, for apt: a deb-src copy of the
# machine's Debian sources (and, for another suite, that suite's deb-src line), and the build's packages.
# The musl interpreter has zlib (built here too) but no ssl or ctypes: musl-tools ships musl's C library only.
# The glibc one has what pip needs (ssl, zlib) from the machine's -dev packages.
# PYTHON_BUILD_JOBS (default 2) sets make's -j; make runs under nice -n 10. PYTHON_BUILD_OPT (default -O1;
# configure adds -DNDEBUG) replaces CPython's own -O3 -g: the tests need a correct interpreter, not a fast one,
# and CPython compiles quicker without the optimiser's later passes and debug information.
set -euo pipefail

usage() {
    echo "usage: $0 [--suite SUITE] [--python X.Y] [--libc glibc|musl] [--disable-gil] PREFIX [WORKDIR]" >&2
    exit 2
}
suite=
series=
libc=glibc
gil=yes
while [ "$#" -gt 0 ]; do
    case "$1" in
        --suite) [ "$#" -ge 2 ] || usage; suite=$2; shift 2 ;;
        --python) [ "$#" -ge 2 ] || usage; series=$2; shift 2 ;;
        --libc) [ "$#" -ge 2 ] || usage; libc=$2; shift 2 ;;
        --disable-gil) gil=no; shift ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ "$#" -ge 1 ] && [ "$#" -le 2 ] || usage
case "$libc" in glibc | musl) ;; *) usage ;; esac
prefix=$(realpath -m "$1")
work=$(realpath -m "${2:-$prefix.build}")
host_suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
suite=${suite:-$host_suite}
if [ -z "$series" ]; then
    case "$suite" in
        bookworm) series=3.11 ;;
        trixie) series=3.13 ;;
        *) echo "$0: no default CPython for suite '$suite'; name one with --python X.Y" >&2; exit 2 ;;
    esac
fi
case "$series" in 3.[0-9] | 3.[0-9][0-9]) ;; *) usage ;; esac
abi=
configure_gil=()
if [ "$gil" = no ]; then
    abi=t
    configure_gil=(--disable-gil)
fi
exe="$prefix/bin/python$series$abi"
arch=$(uname -m)
case "$arch" in
    i?86) musl_loader=/lib/ld-musl-i386.so.1 ;;
    armv7l) musl_loader=/lib/ld-musl-armhf.so.1 ;;
    *) musl_loader=/lib/ld-musl-$arch.so.1 ;;
esac
what="CPython $series$abi ($libc, $suite)"

built() {
    local modules=zipfile,zlib
    [ "$libc" = glibc ] && modules=$modules,ssl
    [ -x "$exe" ] && [ -x "$prefix/bin/python3" ] || return 1
    "$exe" - "$series" "$gil" "$modules" "$prefix" <<'CHECK' 2>/dev/null || return 1
import importlib, os, sys, sysconfig
series, gil, modules, prefix = sys.argv[1:]
for name in modules.split(","):
    importlib.import_module(name)
assert "%d.%d" % sys.version_info[:2] == series
assert bool(sysconfig.get_config_var("Py_GIL_DISABLED")) == (gil == "no")
# built for this very folder: a tree copied from elsewhere still starts, but where CPython finds no landmark (a
# pyvenv.cfg without home, a home of links only) it falls back to the prefix it was built for, gone with that folder
assert os.path.realpath(sysconfig.get_config_var("prefix")) == prefix
CHECK
    if [ "$libc" = musl ]; then
        LC_ALL=C readelf -l "$exe" 2>/dev/null | grep -q "interpreter: $musl_loader"
    else
        LC_ALL=C readelf -l "$exe" 2>/dev/null | grep -q "interpreter: .*ld-linux"
    fi
}
if built; then
    echo "$what already built: $exe"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
need=()
command -v make >/dev/null || need+=(make)
command -v readelf >/dev/null || need+=(binutils)
command -v xz >/dev/null || need+=(xz-utils)
if [ "$libc" = musl ]; then
    command -v musl-gcc >/dev/null || need+=(musl-tools)
    command -v bzip2 >/dev/null || need+=(bzip2)
else
    command -v cc >/dev/null || need+=(gcc libc6-dev)
    # ssl and zlib for pip; ffi, bz2 and lzma because a CPython without them surprises
    for pkg in libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
    done
fi
srcfile=/etc/apt/sources.list.d/symlink-safe-deb-src.sources
suitefile=
[ "$suite" != "$host_suite" ] && suitefile=/etc/apt/sources.list.d/symlink-safe-deb-src-$suite.sources
if [ "$(id -u)" -ne 0 ] && { [ "${#need[@]}" -gt 0 ] || [ ! -e "$srcfile" ] || { [ -n "$suitefile" ] && [ ! -e "$suitefile" ]; }; }; then
    echo "$0: needs root once, to add deb-src lines ($srcfile${suitefile:+, $suitefile}) and install ${need[*]:-nothing else}" >&2
    exit 1
fi
updated=no
# The deb-src twin of every deb source, so apt-get source works; a file of its own, written once.
if [ ! -e "$srcfile" ]; then
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        case "$f" in /etc/apt/sources.list.d/symlink-safe-deb-src*) continue ;; esac
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
    updated=yes
fi
# Another release's source (trixie's CPython 3.13 on bookworm): its deb-src line only, from the main archive,
# so no binary package of that release is ever installed.
if [ -n "$suitefile" ] && [ ! -e "$suitefile" ]; then
    cat >"$suitefile.tmp" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    mv "$suitefile.tmp" "$suitefile"
    updated=yes
fi
if [ "$updated" = yes ]; then
    apt-get update -qq
fi
if [ "${#need[@]}" -gt 0 ]; then
    [ "$updated" = yes ] || apt-get update -qq
    apt-get install -y -qq "${need[@]}"
fi

mkdir -p "$work"
cd "$work"
fetch() { # source package, glob of the file it must yield; sets fetched to that file
    fetched=$(compgen -G "$2" | head -1 || true)
    if [ -z "$fetched" ]; then
        # The release's own suite: the security suite's newer .dsc files are not always on the mirror.
        { [ -n "$suite" ] && apt-get source --download-only "$1/$suite"; } >>apt-source.log 2>&1 ||
            apt-get source --download-only "$1" >>apt-source.log 2>&1 || true
        fetched=$(compgen -G "$2" | head -1 || true)
    fi
    if [ -z "$fetched" ]; then
        echo "could not fetch $2 with apt-get source $1/$suite (see $work/apt-source.log)" >&2
        exit 1
    fi
}
fetch "python$series" "python${series}_*.orig.tar.*"
tarball=$fetched
version=${tarball#python"${series}"_}
version=${version%%.orig.tar.*}
src="Python-$version"
rm -rf "$src"
tar -xf "$tarball"
what="CPython $version$abi ($libc, $suite)"

configure_env=()
if [ "$libc" = musl ]; then
    fetch zlib "zlib_*.orig.tar.*"
    zlib_tarball=$fetched
    zlib_src=${zlib_tarball#zlib_}
    zlib_src=zlib-${zlib_src%%.orig.tar.*}
    rm -rf "$zlib_src" zlib
    tar -xf "$zlib_tarball"
    # musl-tools brings musl's C library only. zlib, built here for musl, gives CPython its zlib module, which
    # pip needs (urllib3 imports it); ssl, ctypes and the rest stay out.
    # (set -e does not apply inside a list joined by ||, hence the &&.)
    (
        cd "$zlib_src" &&
            CC=musl-gcc CFLAGS="-O2 -fPIC" ./configure --static --prefix="$work/zlib" >"$work/zlib.log" 2>&1 &&
            nice -n 10 make -j"${PYTHON_BUILD_JOBS:-2}" libz.a >>"$work/zlib.log" 2>&1 &&
            make install >>"$work/zlib.log" 2>&1
    ) || {
        tail -20 "$work/zlib.log" >&2
        exit 1
    }

    # configure asks the compiler for its multiarch triplet; musl-gcc answers with glibc's, which
    # configure rejects ("internal configure error for the platform triplet"). A wrapper answers nothing.
    # setup.py adds /usr/include/<triplet> (glibc's headers) to the extension modules' include path
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
    configure_env=(CC="$tools/musl-cc" ZLIB_CFLAGS="-I$work/zlib/include" ZLIB_LIBS="-L$work/zlib/lib -lz")
fi

cd "$src"
start=$(date +%s)
env "${configure_env[@]}" OPT="${PYTHON_BUILD_OPT:--O1}" ./configure --prefix="$prefix" \
    --without-ensurepip --disable-test-modules "${configure_gil[@]}" >"$work/configure.log" 2>&1 || {
    tail -20 "$work/configure.log" >&2
    exit 1
}
nice -n 10 make -j"${PYTHON_BUILD_JOBS:-${MUSL_PYTHON_JOBS:-2}}" >"$work/make.log" 2>&1 || {
    tail -40 "$work/make.log" >&2
    exit 1
}
nice -n 10 make install >"$work/install.log" 2>&1 || {
    tail -40 "$work/install.log" >&2
    exit 1
}
echo "$what built in $(($(date +%s) - start)) s: $exe"
built || {
    echo "$exe does not run, lacks a module, or is not the $libc, GIL=$gil build asked for" >&2
    exit 1
}

#!/usr/bin/env bash
# Make a Debian root of a foreign (or 32-bit) architecture once per machine, for tox -e arch.
#
# usage: make-root.sh SUITE ARCH ROOT
#   SUITE  Debian suite (bookworm; trixie for riscv64, which bookworm's main archive does not carry)
#   ARCH   Debian architecture: i386, arm64, armhf, ppc64el, s390x, riscv64
#   ROOT   the directory made; ROOT/.symlink-safe-root is written last, only when the root is complete
#
# Idempotent: exits at once when the stamp names the same suite, architecture and packages; otherwise the
# directory is removed and made again.  debootstrap --foreign unpacks on the host; its second stage runs in
# the root, under qemu-user-static through binfmt_misc for a foreign architecture (registered here, with the
# F flag, so the root needs no emulator of its own) and under linux32 for i386.  Needs root.
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 SUITE ARCH ROOT" >&2
    exit 2
fi
suite=$1 arch=$2 root=$(realpath -m "$3")
# What the project needs inside: its own compiler, CMake and Ninja build the stub; its own python3 is the
# interpreter under test; git gives setuptools-scm the version; ca-certificates lets its pip verify PyPI.
packages=gcc,libc6-dev,cmake,ninja-build,python3,python3-venv,python3-dev,git,ca-certificates,binutils
stamp="$root/.symlink-safe-root"
want="suite=$suite arch=$arch packages=$packages"
made() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; }
if made; then
    echo "root already made: $root ($suite $arch)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "$0: needs root (debootstrap, chroot, binfmt_misc)" >&2
    exit 1
fi
# One maker per root: a second run waits for the first, then finds the root made.
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
if made; then
    echo "root already made: $root ($suite $arch)"
    exit 0
fi

# The emulator for the architecture, when the host cannot run it natively.
case "$arch" in
    amd64 | i386) qemu= ;;
    arm64) qemu=aarch64 ;;
    armhf | armel) qemu=arm ;;
    ppc64el) qemu=ppc64le ;;
    s390x) qemu=s390x ;;
    riscv64) qemu=riscv64 ;;
    *)
        echo "$0: unknown architecture $arch" >&2
        exit 2
        ;;
esac
if [ -n "$qemu" ]; then
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if ! grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$qemu" 2>/dev/null; then
        update-binfmts --enable "qemu-$qemu"
    fi
    if ! grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$qemu"; then
        echo "$0: qemu-$qemu is registered without the F flag; the root would need the emulator inside" >&2
        exit 1
    fi
fi

# The machine's own Debian mirror (its apt sources), deb.debian.org when none is found.
mirror=${SYMLINK_SAFE_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(
        {
            sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
            sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
                /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
        } | tr ' ' '\n' | grep -E '/debian/?$' | head -n 1 || true
    )
    mirror=${mirror:-http://deb.debian.org/debian}
fi

personality=()
[ "$arch" = i386 ] && personality=(linux32)
echo "making the $suite $arch root in $root from $mirror"
rm -rf "$root"
debootstrap --foreign --arch="$arch" --variant=minbase --include="$packages" "$suite" "$root" "$mirror"
# A mount namespace of its own: the second stage mounts /proc in the root, gone when it ends, even on failure.
unshare --mount --propagation private "${personality[@]}" chroot "$root" /debootstrap/debootstrap --second-stage
# The root's apt, for anyone who adds to it by hand.
echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
echo "$want" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
echo "made the $suite $arch root in $root"

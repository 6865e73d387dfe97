#!/usr/bin/env bash
# Fetches Debian 12's i386 kernel (the current dependency of linux-image-686) and busybox-static
# with apt, extracts vmlinuz and busybox, and builds the busybox initramfs (initramfs.ts).
# Output: out/linux/{vmlinuz,busybox,initrd.cpio,VERSION} (gitignored; never committed).
# Needs root (dpkg --add-architecture) or an apt that already knows i386; exits 3 when the
# packages cannot be had, so callers can skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=out/linux
mkdir -p "$out"

if ! dpkg --print-foreign-architectures | grep -qx i386; then
  if [ "$(id -u)" != 0 ]; then
    echo "fetch.sh: apt does not know the i386 architecture and this is not root" >&2
    exit 3
  fi
  dpkg --add-architecture i386
fi
if [ "$(id -u)" = 0 ]; then apt-get update -qq || true; fi

# linux-image-686 is a metapackage; its one dependency names the current ABI's image.
pkg=$(apt-cache depends linux-image-686:i386 2>/dev/null |
  awk '/Depends: linux-image-6\.1.*-686/ { sub(":i386", "", $2); print $2; exit }')
if [ -z "$pkg" ]; then
  echo "fetch.sh: apt knows no linux-image-686:i386 (Debian 12 i386 sources missing)" >&2
  exit 3
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 777 "$tmp" # apt's _apt user writes the downloads
if ! (cd "$tmp" && apt-get download -qq "$pkg:i386" busybox-static:i386); then
  echo "fetch.sh: apt-get download $pkg:i386 busybox-static:i386 failed" >&2
  exit 3
fi
kdeb=$(ls "$tmp"/linux-image-*.deb)
bdeb=$(ls "$tmp"/busybox-static_*.deb)
dpkg-deb --fsys-tarfile "$kdeb" | tar -xO --wildcards './boot/vmlinuz-*' >"$out/vmlinuz"
dpkg-deb --fsys-tarfile "$bdeb" | tar -xO ./bin/busybox >"$out/busybox"
printf '%s %s\n%s %s\n' \
  "$pkg" "$(dpkg-deb -f "$kdeb" Version)" busybox-static "$(dpkg-deb -f "$bdeb" Version)" \
  >"$out/VERSION"

${DENO:-deno} run --allow-read=guests/linux,"$out" --allow-write="$out" guests/linux/initramfs.ts \
  "$out/busybox" "$out/initrd.cpio"
cat "$out/VERSION"

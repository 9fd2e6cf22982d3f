#!/usr/bin/env bash
# Build a minimal container root file system in DIR: busybox-static with its applets as
# links, /etc basics, and each given host BINARY (a path, or a name looked up in PATH)
# copied with the shared libraries ldd lists and the dynamic loader.
# Usage: scripts/mkrootfs.sh DIR [BINARY]...
# Example: scripts/mkrootfs.sh build/rootfs socat
set -euo pipefail

usage() { echo "usage: $0 DIR [BINARY]..." >&2; exit 2; }
[ $# -ge 1 ] || usage
case $1 in -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
dir=$1; shift
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "mkrootfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
	echo "mkrootfs: $busybox is dynamically linked; install busybox-static" >&2
	exit 1
fi

mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,run,root,var/tmp}
chmod 1777 "$dir/tmp" "$dir/var/tmp"
install -m 0755 "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$dir/etc/hosts"
: >"$dir/etc/resolv.conf"

# copy FILE into the rootfs at the same path (following symlinks for the content).
copy() {
	local f=$1
	mkdir -p "$dir$(dirname "$f")"
	[ -e "$dir$f" ] || cp -L "$f" "$dir$f"
}

for b in "$@"; do
	path=$b
	[ -x "$path" ] || path=$(command -v "$b" || true)
	[ -n "$path" ] && [ -x "$path" ] || { echo "mkrootfs: no executable '$b'" >&2; exit 1; }
	mkdir -p "$dir/usr/bin"
	cp -L "$path" "$dir/usr/bin/$(basename "$path")"
	# ldd lines: "libx.so => /lib/x/libx.so (0x..)" and "/lib64/ld-linux-x86-64.so.2 (0x..)".
	for lib in $(ldd "$path" 2>/dev/null | grep -o '/[^ ]*' || true); do
		[ -f "$lib" ] && copy "$lib"
	done
done
echo "$dir"

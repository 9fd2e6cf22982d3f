#!/usr/bin/env bash
# Provides a CRIU >= 4.2 for live migration at $PETREL_CRIU_PREFIX (default /opt/petrel/criu),
# with a launcher at <prefix>/bin/criu (scripts/criu-launcher.c: it also replays CRIU's
# answer to runc's version probe, recorded here). A suitable `criu` already in PATH is used
# as it is. Otherwise (Debian 12 ships 3.17, which fails on newer kernels) CRIU and its
# library chain are downloaded from Debian's unstable suite with a private apt
# configuration, unpacked into the prefix and run through the prefix's own dynamic loader:
# the system's sources, libc and packages are never touched. Idempotent: a working install
# is left alone.
set -euo pipefail
PREFIX=${PETREL_CRIU_PREFIX:-/opt/petrel/criu}
WRAPPER=$PREFIX/bin/criu
REPLY=$PREFIX/version-reply.bin
LAUNCHER_SRC=$(cd "$(dirname "$0")" && pwd)/criu-launcher.c
MIN_MAJOR=4 MIN_MINOR=2

say() { echo "install-criu: $*"; }

version_ok() {   # criu-binary → 0 if its version is >= 4.2
	local v
	v=$("$1" --version 2>/dev/null | sed -n 's/^Version: *\([0-9][0-9.]*\).*/\1/p' | head -1)
	[ -n "$v" ] || return 1
	local major=${v%%.*} rest=${v#*.}
	local minor=${rest%%.*}
	[ "$major" -gt "$MIN_MAJOR" ] || { [ "$major" -eq "$MIN_MAJOR" ] && [ "${minor:-0}" -ge "$MIN_MINOR" ]; }
}

works() { "$1" check 2>&1 | grep -q "Looks good"; }

# launcher CRIU [LOADER LIBRARY-PATH]: builds <prefix>/bin/criu for that CRIU, then records
# the real CRIU's reply to a version request (type VERSION, 10) made the way runc makes it.
launcher() {
	local defs=(-DCRIU_BIN="\"$1\"" -DVERSION_REPLY="\"$REPLY\"")
	[ -z "${2:-}" ] || defs+=(-DCRIU_LD="\"$2\"" -DCRIU_LIBS="\"$3\"")
	rm -f "$REPLY"
	cc -O2 -Wall -Werror "${defs[@]}" -o "$WRAPPER.new" "$LAUNCHER_SRC"
	mv "$WRAPPER.new" "$WRAPPER"
	python3 - "$WRAPPER" "$REPLY" <<'PY'
import socket, subprocess, sys
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sys.argv[1], "swrk", str(theirs.fileno())], pass_fds=[theirs.fileno()])
theirs.close()
ours.send(b"\x08\x0a")
ours.settimeout(10)
reply = ours.recv(4096)
p.wait(10)
# type VERSION, success true: anything else is not recorded (every probe then goes to CRIU).
if reply.startswith(b"\x08\x0a\x10\x01"):
    open(sys.argv[2], "wb").write(reply)
PY
}

launcher_current() {
	[ -x "$WRAPPER" ] && [ -s "$REPLY" ] && [ "$(head -c 2 "$WRAPPER")" != "#!" ] &&
		[ "$WRAPPER" -nt "$LAUNCHER_SRC" ]
}

# Podman checks CRIU's version itself, with the criu on PATH (runc finds it the same way):
# with none there, a link in /usr/local/sbin (the administrator's, no package's) names ours.
link_for_podman() {
	local link=/usr/local/sbin/criu
	if ! command -v criu >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && [ ! -e "$link" ]; then
		ln -s "$WRAPPER" "$link" && say "linked $link to $WRAPPER for Podman and runc"
	fi
	return 0
}

if launcher_current && version_ok "$WRAPPER" && works "$WRAPPER"; then
	link_for_podman
	say "$($WRAPPER --version | head -1) at $WRAPPER (already installed)"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || { say "run as root" >&2; exit 1; }
mkdir -p "$PREFIX/bin"

# A good CRIU on the PATH (a newer distribution): the launcher runs it.
if sys=$(command -v criu 2>/dev/null) && [ "$(readlink -f "$sys")" != "$(readlink -f "$WRAPPER")" ] &&
	version_ok "$sys" && works "$sys"; then
	launcher "$sys"
	say "using $($sys --version | head -1) from $sys"
	exit 0
fi

R=$PREFIX/root
LIBS="$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu"
find_loader() {
	ls "$R"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R"/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 2>/dev/null | head -1 || true
}
# An earlier install's CRIU, from before the launcher: only the launcher is new.
if [ -x "$R/usr/sbin/criu" ] && LD=$(find_loader) && [ -n "$LD" ]; then
	launcher "$R/usr/sbin/criu" "$LD" "$LIBS"
	if version_ok "$WRAPPER" && works "$WRAPPER"; then
		say "$($WRAPPER --version | head -1) at $WRAPPER (launcher updated)"
		exit 0
	fi
fi

# Same mirror as the system's own sources, suite unstable.
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '/^deb .*debian/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { say "cannot find the Debian mirror in /etc/apt/sources.list.d/debian.sources" >&2; exit 1; }
mirror=${mirror%/}
APT=$PREFIX/apt
rm -rf "$APT" "$PREFIX/root"
mkdir -p "$APT/lists/partial" "$APT/debs" "$PREFIX/root"
echo "deb $mirror sid main" > "$APT/sid.list"
O=(-o "Dir::Etc::SourceList=$APT/sid.list" -o Dir::Etc::SourceParts=/dev/null
   -o "Dir::State::Lists=$APT/lists" -o Dir::Etc::Preferences=/dev/null
   -o Dir::Etc::PreferencesParts=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
say "reading unstable's package lists from $mirror"
apt-get "${O[@]}" update -q >/dev/null
candidate=$(apt-cache "${O[@]}" policy criu | sed -n 's/^ *Candidate: *//p')
say "unstable offers criu $candidate"
# CRIU and the closure of its run-time dependencies, resolved now (the suites move).
pkgs=$(apt-cache "${O[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances criu | grep -v '^ ' | grep -v '^<' | sort -u)
say "downloading $(echo "$pkgs" | wc -w) packages"
(cd "$APT/debs" && apt-get "${O[@]}" download -q $pkgs >/dev/null)
for deb in "$APT"/debs/*.deb; do
	dpkg -x "$deb" "$PREFIX/root"
done
LD=$(find_loader)
[ -n "$LD" ] || { say "no dynamic loader in the downloaded libc6" >&2; exit 1; }
# CRIU from Debian unstable, run with its own libc.
launcher "$R/usr/sbin/criu" "$LD" "$LIBS"
rm -rf "$APT"
if ! version_ok "$WRAPPER"; then
	say "installed CRIU is older than $MIN_MAJOR.$MIN_MINOR: $($WRAPPER --version 2>&1 | head -1)" >&2
	exit 1
fi
if ! works "$WRAPPER"; then
	say "criu check failed:" >&2
	"$WRAPPER" check >&2 || true
	exit 1
fi
link_for_podman
say "$($WRAPPER --version | head -1) installed at $WRAPPER; criu check: Looks good."

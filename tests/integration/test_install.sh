#!/usr/bin/env bash
# `make install` for a real host, staged with DESTDIR: the binaries where each belongs (the
# CRIU hook beside petreld, the CNI plugin where runtimes look), the systemd unit, the
# config example, manual pages made from each program's own --help, and a bash
# completion made from the command table that completes objects and verbs.
. "$(dirname "$0")/lib.sh"
DEST=$(mktemp -d /tmp/petrel-install-XXXXXX)
trap 'rc=$?; rm -rf "$DEST"; exit $rc' EXIT
make -s -C "$ROOT" BUILD="$BUILD" DESTDIR="$DEST" install >/dev/null || fail "make install"
for f in usr/local/bin/petrel usr/local/sbin/petreld usr/local/sbin/petrel-criu-hook \
	opt/cni/bin/petrel-cni usr/lib/cni/petrel-cni; do
	[ -x "$DEST/$f" ] || fail "$f not installed as an executable"
done
[ -f "$DEST/etc/petrel/petreld.conf.example" ] || fail "no config example"
UNIT=$DEST/lib/systemd/system/petreld.service
grep -qx 'ExecStart=/usr/local/sbin/petreld --config /etc/petrel/petreld.conf' "$UNIT" &&
	grep -qx 'Restart=on-failure' "$UNIT" && grep -qx 'KillMode=process' "$UNIT" ||
	fail "the unit's ExecStart, Restart or KillMode is off: $(cat "$UNIT")"
ok "binaries, CNI plugin paths, config example and systemd unit (restart on failure, agent-only stop)"

MAN=$DEST/usr/local/share/man
for p in man8/petrel.8 man8/petreld.8 man8/petrel-cni.8 man5/petreld.conf.5; do
	head -1 "$MAN/$p" | grep -q '^\.TH ' || fail "$p has no man(7) header"
done
# The pages are the programs' own help: they cannot drift from it.
"$BUILD/bin/petreld" --help | grep -v '^$' | head -5 | while read -r line; do
	grep -qF -- "$line" "$MAN/man8/petreld.8" || fail "petreld.8 lacks: $line"
done
"$BUILD/bin/petrel" migrate --help | head -1 | sed 's/^Usage: //' | grep -qF -f - "$MAN/man8/petrel.8" ||
	fail "petrel.8 lacks the migrate command's help"
grep -q 'etcd-ca' "$MAN/man5/petreld.conf.5" || fail "petreld.conf.5 lacks etcd-ca"
if command -v man >/dev/null && command -v groff >/dev/null; then
	man -l "$MAN/man8/petrel.8" 2>/dev/null | grep -q 'lab up' || fail "petrel.8 does not render"
fi
ok "manual pages petrel(8), petreld(8), petrel-cni(8) and petreld.conf(5), from each program's help"

COMP=$DEST/usr/share/bash-completion/completions/petrel
got=$(bash -c ". '$COMP'; COMP_WORDS=(petrel --node node1 lab ''); COMP_CWORD=4; _petrel; echo \${COMPREPLY[*]}")
[ "$got" = "up down status exec router --help" ] || fail "completing 'petrel --node node1 lab ': $got"
got=$(bash -c ". '$COMP'; COMP_WORDS=(petrel mi); COMP_CWORD=1; _petrel; echo \${COMPREPLY[*]}")
[ "$got" = migrate ] || fail "completing 'petrel mi': $got"
ok "bash completion from the command table: objects, and each object's verbs"

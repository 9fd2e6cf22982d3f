#!/usr/bin/env bash
# petrel run --image on a 2-node lab where each node has its own containers-storage: an
# image made by `podman import` of a busybox rootfs (Entrypoint, Cmd, Env, WorkingDir and
# User honoured), the same image as an OCI layout (oci:DIR:TAG, a command and --env
# overriding), layers left untouched, a migration to a node lacking the image refused
# before the freeze, and migrations with the writable layer once the image is there.
. "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || skip "podman is not installed"

lab_up 2 vxlan
L=/run/petrel/labs/$LAB
# Podman on a node: `petrel lab exec` points it at that node's own image store.
pod() { local n=$1; shift; p lab exec "$n" -- podman "$@"; }
W=$(mktemp -d /tmp/petrel-image-XXXXXX)
trap 'rc=$?; rm -rf "$W"; cleanup $rc' EXIT
bash "$ROOT/scripts/mkrootfs.sh" "$W/rootfs" >/dev/null
tar -C "$W/rootfs" -cf "$W/rootfs.tar" .
pod node1 import --change 'ENTRYPOINT ["/bin/sh", "-c"]' \
	--change 'CMD ["echo entry=$GREETING cwd=$(pwd) uid=$(id -u); i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done"]' \
	--change 'ENV GREETING=hello' --change 'WORKDIR /tmp' --change 'USER nobody' \
	"$W/rootfs.tar" localhost/petrel-bb:1 >/dev/null || fail "podman import"
ID=$(pod node1 image inspect localhost/petrel-bb:1 | jq -r '.[0].Id')
# The image the migrations use runs as root: CRIU reads a process's rlimits, which takes
# CAP_SYS_RESOURCE for another user's process, and this test machine's root lacks it.
pod node1 import --change 'ENTRYPOINT ["/bin/sh", "-c"]' \
	--change 'CMD ["i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done"]' \
	--change 'ENV GREETING=hello' "$W/rootfs.tar" localhost/petrel-bb:2 >/dev/null || fail "podman import"

# From containers-storage: the image's process as it describes it.
p --node node1 run usr --image localhost/petrel-bb:1 >/dev/null || fail "run --image localhost/petrel-bb:1"
for i in $(seq 30); do p --node node1 logs usr | grep -q entry= && break; sleep 0.1; done
log=$(p --node node1 logs usr)
grep -qx "entry=hello cwd=/tmp uid=65534" <<<"$log" || fail "Entrypoint/Cmd/Env/WorkingDir/User not honoured: $log"
[ "$(p --node node1 -j ps | jq -r '.[] | select(.name == "usr") | .image_id')" = "sha256:$ID" ] ||
	fail "the container does not record the image's id"
ok "an image from podman import runs with its Entrypoint, Cmd, Env, WorkingDir and User"
p --node node1 run st --image localhost/petrel-bb:2 >/dev/null || fail "run --image localhost/petrel-bb:2"

# The same image as an OCI image layout, with a command and an --env of the caller's.
pod node1 push localhost/petrel-bb:2 "oci:$W/layout:v1" >/dev/null 2>&1 || fail "podman push to an OCI layout"
p --node node1 run lay --image "oci:$W/layout:v1" --env GREETING=bonjour -- \
	'echo override=$GREETING; echo kept > /tmp/mine; sleep 1000' >/dev/null || fail "run --image oci:DIR:TAG"
for i in $(seq 30); do p --node node1 logs lay | grep -q override= && break; sleep 0.1; done
grep -qx "override=bonjour" <<<"$(p --node node1 logs lay)" || fail "CMD or --env not applied: $(p --node node1 logs lay)"
layer=$(ls -d "$L"/node1/state/images/layers/*/)
[ -x "$layer/bin/busybox" ] && [ ! -e "$layer/tmp/mine" ] || fail "the layer is not unpacked read-only beneath the container"
ok "an OCI layout (oci:DIR:TAG) runs, its layers unpacked once by digest and left unmodified"

# node2 has no such image: refused before anything freezes, still running on node1.
pid=$(p -j ps | jq -r '.[] | select(.name == "st") | .pid')
expect_error "a migration to a node without the image" "node node2 lacks image localhost/petrel-bb:2" \
	p --node node1 migrate st --to node2
[ "$(p -j ps | jq -r '.[] | select(.name == "st") | "\(.node) \(.state) \(.pid)"')" = "node1 running $pid" ] ||
	fail "the refused migration disturbed the container"
ok "the refused migration left the container running on node1 (pid $pid)"

# With the image loaded there (same id), it moves with its writable layer.
pod node1 save localhost/petrel-bb:2 2>/dev/null | pod node2 load >/dev/null 2>&1 || fail "podman save | load"
before=$(p --node node1 exec st -- cat /tmp/count)
out=$(p --node node1 migrate st --to node2 2>&1) || fail "migrating st to node2: $out"
after=$(p --node node2 exec st -- cat /tmp/count)
[ "$after" -ge "$before" ] || fail "the writable layer did not come along: count $before then $after"
[ "$(p --node node2 exec st -- sh -c 'echo $GREETING')" = "hello" ] || fail "the image's env lost"
ok "with the image on node2 it migrates: count $before → $after in its writable layer, env kept"
p --node node1 migrate lay --to node2 >/dev/null 2>&1 || fail "migrating the layout container"
[ "$(p --node node2 exec lay -- cat /tmp/mine)" = kept ] || fail "the layout container lost its file"
ok "the OCI-layout container migrates too (node2 unpacks the layout's layers itself)"

# Podman's own containers on a node join the petrel network through that node's agent:
# an address from that node's block, an endpoint while it runs, none after --rm.
out=$(pod node2 run --rm --network petrel --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
	localhost/petrel-bb:2 'ip -o -4 addr show eth0' 2>&1) || fail "podman run --network petrel on node2: $out"
block=$(p --node node2 -j node status | jq -r .block.ipv4 | cut -d. -f1-3)
grep -q "inet $block\." <<<"$out" || fail "node2's Podman container is not in node2's block $block: $out"
for _ in $(seq 50); do
	[ "$(p --node node2 -j endpoint list | jq '[.[] | select(.labels.runtime == "podman")] | length')" = 0 ] && break
	sleep 0.1
done
[ "$(p --node node2 -j endpoint list | jq '[.[] | select(.labels.runtime == "podman")] | length')" = 0 ] ||
	fail "podman run --rm left its endpoint on node2"
ok "lab exec node2 -- podman run --network petrel: an address of node2's block, removed with the container"

# Bad input.
expect_error "an image that does not exist" "no image 'localhost/nope:1'" p --node node1 run x --image localhost/nope:1
expect_error "an OCI layout that does not exist" "is $W/missing an OCI image layout" \
	p --node node1 run x --image "oci:$W/missing"
expect_error "both --rootfs and --image" "one of them" p --node node1 run x --rootfs "$W/rootfs" --image localhost/petrel-bb:1 -- true
expect_error "a relative layout path" "absolute DIR" p --node node1 run x --image oci:relative/dir
[ -z "$(p -j ps | jq -r '.[] | select(.name == "x") | .name')" ] && [ -z "$(p -j endpoint list | jq -r '.[] | select(.name == "x") | .name')" ] ||
	fail "a refused run left a container or endpoint"
ok "refused runs leave no container or endpoint"
echo "$CHECKS checks passed"

#!/usr/bin/env bash
# A real runtime end to end: Podman (Debian's 4.3, CNI backend) runs a container on a petrel
# network through petrel-cni; the container gets a petrel address, is a petrel endpoint with
# Podman's labels, reaches an endpoint on another lab node, publishes a port through CNI's
# portMappings, has per-endpoint metrics, and is blocked by a petrel policy (seen in the
# flow log); Podman's own checkpoint and restore work with petrel's CRIU. Podman's storage,
# config and CNI directories are private to the test.
. "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || skip "podman is not installed (scripts/install-deps.sh installs it)"
[ -x /bin/busybox ] || skip "busybox-static is not installed (scripts/install-deps.sh installs it)"
D=$(mktemp -d /tmp/petrel-podman-XXXXXX)
PM() { CONTAINERS_CONF=$D/containers.conf podman --root "$D/root" --runroot "$D/run" --storage-driver vfs "$@"; }
trap 'rc=$?; PM rm -af >/dev/null 2>&1; rm -rf "$D"; cleanup $rc' EXIT

lab_up 2 vxlan
p --node node2 endpoint add far >/dev/null
echo_server "$(ep_ns far)" 7000
FAR4=$(ep_field far ipv4) FAR6=$(ep_field far ipv6)

mkdir -p "$D/rootfs/bin" "$D/net.d"
cp /bin/busybox "$D/rootfs/bin/"
for c in sh echo nc cat ip sleep timeout; do ln -s busybox "$D/rootfs/bin/$c"; done
cat > "$D/containers.conf" <<CONF
[network]
network_backend = "cni"
cni_plugin_dirs = ["$BUILD/bin"]
network_config_dir = "$D/net.d"
CONF
cat > "$D/net.d/petrel.conflist" <<CONF
{"cniVersion": "1.0.0", "name": "petrel",
 "plugins": [{"type": "petrel-cni", "socket": "/run/petrel/labs/$LAB/node1/petreld.sock",
              "labels": {"runtime": "podman"}, "capabilities": {"portMappings": true}}]}
CONF
tar -C "$D/rootfs" -c . | PM import - localhost/petrel-busybox >/dev/null 2>&1 || fail "podman import"
ok "a local busybox image built with podman import"

# This sandbox forbids raising RLIMIT_NOFILE/NPROC, which Podman does by default; lower
# limits are allowed, so the container gets explicit ones.
out=$(CONTAINERS_CONF=$D/containers.conf timeout 90 podman --root "$D/root" --runroot "$D/run" --storage-driver vfs run --rm --network petrel --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
	localhost/petrel-busybox sh -c "ip -o addr show eth0; echo via-podman | nc $FAR4 7000; echo via-podman6 | nc $FAR6 7000" 2>&1) \
	|| fail "podman run failed: $out"
echo "$out" | grep -q "inet 10.244.0." || fail "the Podman container has no petrel IPv4 address: $out"
echo "$out" | grep -q "inet6 fd00:244:" || fail "the Podman container has no petrel IPv6 address: $out"
ok "Podman container got petrel addresses: $(echo "$out" | awk '/inet /{print $4}')"
echo "$out" | grep -qx "via-podman" || fail "the Podman container could not reach far over IPv4: $out"
echo "$out" | grep -qx "via-podman6" || fail "the Podman container could not reach far over IPv6: $out"
ok "Podman container on node1 reached an endpoint on node2 over TCP (IPv4 and IPv6)"

# Policy: once far only admits app=trusted, the Podman container (runtime=podman) is blocked.
p --node node2 endpoint add trusted --label app=trusted >/dev/null
printf '{"name":"far-trusted-only","endpointSelector":{"matchLabels":{"app":"far"}},"ingress":[{"fromEndpoints":[{"matchLabels":{"app":"trusted"}}]}]}' \
	> "$D/policy.json"
p --node node2 endpoint del far >/dev/null
p --node node2 endpoint add far --label app=far >/dev/null
echo_server "$(ep_ns far)" 7000
FAR4=$(ep_field far ipv4)
p --node node1 policy apply "$D/policy.json" >/dev/null
sleep 1
expect_echo "$(ep_ns trusted)" TCP "$FAR4" 7000 "the trusted endpoint still reaches far"
out=$(CONTAINERS_CONF=$D/containers.conf timeout 90 podman --root "$D/root" --runroot "$D/run" --storage-driver vfs run --rm --network petrel --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
	localhost/petrel-busybox sh -c "echo blocked | timeout 3 nc $FAR4 7000; echo done" 2>&1) || true
echo "$out" | grep -qx "blocked" && fail "the policy did not block the Podman container: $out"
p --node node2 flows --endpoint far --verdict denied | jq -se 'map(select(.src.labels | index("runtime=podman"))) | length > 0' \
	>/dev/null || fail "no denied flow event for the Podman container"
ok "a petrel policy blocks the Podman container, and the flow log says so"

# While a container runs it is a petrel endpoint with the network's labels and Podman's
# container name (CNI_ARGS K8S_POD_NAME); its published port (the portMappings capability)
# answers on the node's address; --rm removes it.
PM run -d --name sleeper --network petrel -p 8082:7001 --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
	localhost/petrel-busybox sh -c "nc -ll -p 7001 -e cat & sleep 60" >/dev/null || fail "podman run -d"
p --node node1 -j endpoint list | jq -e 'map(select(.labels.runtime == "podman" and .labels["petrel.io/cni"] == "true" and
	.labels["petrel.io/cni-network"] == "petrel" and .labels["io.kubernetes.pod.name"] == "sleeper" and
	.publish == [{"host_port": 8082, "port": 7001, "proto": "tcp"}])) | length == 1' \
	>/dev/null || fail "the running Podman container is not a petrel endpoint with its labels: $(p --node node1 -j endpoint list)"
ok "a running Podman container is a petrel endpoint labelled runtime=podman, io.kubernetes.pod.name=sleeper"
expect_echo "$LAB-outside" TCP "$(node_ip node1 4)" 8082 "a client outside the cluster reaches the Podman container's published port"
# Telemetry: the running Podman container's endpoint has datapath counters on its node.
p --node node1 -j endpoint list >/dev/null
curl -sf --unix-socket "/run/petrel/labs/$LAB/node1/petreld.sock" http://x/metrics \
	| grep -q 'petrel_endpoint_tx_packets_total{node="node1",endpoint="cni-' \
	|| fail "no per-endpoint metrics for the Podman container"
ok "the Podman container's endpoint has per-endpoint metrics on its node"

PM rm -f -t 0 sleeper >/dev/null
for i in $(seq 50); do
	[ "$(p --node node1 -j endpoint list | jq 'map(select(.labels.runtime == "podman")) | length')" = 0 ] && break
	sleep 0.1
done
[ "$(p --node node1 -j endpoint list | jq 'map(select(.labels.runtime == "podman")) | length')" = 0 ] \
	|| fail "podman rm left the endpoint behind (DEL not called or failed)"
ok "podman rm removes the endpoint through CNI DEL"

# Podman's own checkpoint and restore find petrel's CRIU (>= 4.2; Debian 12 ships none)
# where the install links it: an exported checkpoint restores with its state.
PM run -d --name counter --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
	localhost/petrel-busybox sh -c 'i=0; while true; do i=$((i+1)); echo $i > /n; sleep 0.1; done' \
	>/dev/null || fail "podman run -d counter"
# The counter has counted (a loaded machine may take a while to start it).
for _ in $(seq 50); do n1=$(PM exec counter cat /n 2>/dev/null) && [ -n "$n1" ] && break; sleep 0.1; done
[ -n "$n1" ] || fail "the counter never wrote /n"
out=$(PM container checkpoint --export "$D/counter.tar.gz" counter 2>&1) || fail "podman container checkpoint: $out"
PM rm -f counter >/dev/null
out=$(PM container restore --import "$D/counter.tar.gz" 2>&1) || fail "podman container restore: $out"
for _ in $(seq 50); do
	n2=$(PM exec counter cat /n 2>/dev/null) && [ -n "$n2" ] && [ "$n2" -gt "$n1" ] && break
	sleep 0.1
done
[ -n "$n2" ] && [ "$n2" -gt "$n1" ] || fail "the restored counter did not go on: $n1 then $n2"
PM rm -f -t 0 counter >/dev/null
ok "podman container checkpoint --export / restore --import work with petrel's CRIU (count $n1 → $n2)"
echo "$CHECKS checks passed"

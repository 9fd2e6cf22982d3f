#!/usr/bin/env bash
# Installs everything petrel needs to build, test and demo on Debian 12, idempotently: only
# missing packages are installed (a second run does no network access), then a CRIU >= 4.2
# through scripts/install-criu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	# build
	build-essential pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
	libnl-3-dev libnl-route-3-dev libnftables-dev libmicrohttpd-dev libcurl4-openssl-dev
	libjansson-dev libsqlite3-dev uthash-dev libssl-dev libnetfilter-queue-dev libnetfilter-conntrack-dev libzstd-dev
	libyaml-dev libarchive-dev
	# run and test
	etcd-server etcd-client iproute2 nftables iptables socat iperf3 sockperf jq curl python3 gnuplot-nox
	iputils-ping tcpdump tshark runc util-linux graphviz
	# the CNI end-to-end test: a real runtime and a tiny image
	podman busybox-static
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (it installs Debian packages)" >&2
	exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
	case "$p" in \#*) continue ;; esac
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
	echo "install-deps: all Debian packages present"
fi

scripts/install-criu.sh

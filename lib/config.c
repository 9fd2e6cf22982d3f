/* petreld configuration: `key = value` parsing, defaults and cross-field validation (pure). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "config.h"

bool name_valid(const char *s)
{
	size_t n;

	if (!s || !*s || (n = strlen(s)) > 63)
		return false;
	if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

const char *routing_mode_str(enum routing_mode m)
{
	return m == MODE_NATIVE ? "native" : "vxlan";
}

void config_defaults(struct petreld_config *c)
{
	memset(c, 0, sizeof(*c));
	cidr_parse("10.244.0.0/16", &c->pools.cluster4);
	cidr_parse("fd00:244::/48", &c->pools.cluster6);
	c->pools.block4_len = 24;
	c->pools.block6_len = 64;
	c->mode = MODE_VXLAN;
	snprintf(c->underlay_dev, sizeof(c->underlay_dev), "eth0");
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/petrel");
	snprintf(c->socket, sizeof(c->socket), "/run/petrel/petreld.sock");
	snprintf(c->netns_prefix, sizeof(c->netns_prefix), "petrel-");
	c->underlay_mtu = 1500;
	c->peer_port = 4791;
	c->ioam_node_id = 0xffffff;
	c->ioam_export_rate = 1000;
	c->max_cluster_endpoints = 262144;
	c->ioam_node_id_wide = 0xffffffffffffffULL;
}

static int bad(char *err, size_t len, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, len, "key '%s': %s", key, msg);
	return -EINVAL;
}

static int set_str(char *dst, size_t size, const char *key, const char *v, bool path,
		   char *err, size_t len)
{
	if (!*v)
		return bad(err, len, key, "empty value");
	if (strlen(v) >= size)
		return bad(err, len, key, "longer than %zu characters", size - 1);
	if (path && v[0] != '/')
		return bad(err, len, key, "'%s' is not an absolute path", v);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_uint(int *dst, const char *key, const char *v, long lo, long hi, char *err, size_t len)
{
	char *end;
	long n;

	/* Digits only: strtol alone would take "+24", " 24" and "0x18". */
	if (!isdigit((unsigned char)*v))
		return bad(err, len, key, "'%s' is not a number in %ld-%ld", v, lo, hi);
	n = strtol(v, &end, 10);
	if (*end || n < lo || n > hi)
		return bad(err, len, key, "'%s' is not a number in %ld-%ld", v, lo, hi);
	*dst = (int)n;
	return 0;
}

static int check_etcd(const char *v, const char *key, char *err, size_t len)
{
	char buf[CONFIG_STR], *save = NULL, *tok;

	if (strlen(v) >= sizeof(buf))
		return bad(err, len, key, "longer than %zu characters", sizeof(buf) - 1);
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *host, *colon;
		char *end;
		long port;

		if (strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8))
			return bad(err, len, key, "'%s' is not http[s]://HOST:PORT", tok);
		host = tok + (tok[4] == 's' ? 8 : 7);
		colon = strrchr(host, ':');
		if (!colon || colon == host || strpbrk(host, "/?#@ \t"))
			return bad(err, len, key, "'%s' is not http[s]://HOST:PORT", tok);
		if (!isdigit((unsigned char)colon[1]))
			return bad(err, len, key, "'%s' has no valid port", tok);
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535)
			return bad(err, len, key, "'%s' has no valid port", tok);
	}
	return 0;
}

int config_set(struct petreld_config *c, const char *key, const char *v, char *err, size_t len)
{
	struct cidr cidr;
	int n, ret;

	if (!strcmp(key, "node")) {
		if (!name_valid(v))
			return bad(err, len, key, "'%s' is invalid (a-z, 0-9 and '-', at most 63, "
				   "starting with a letter or digit)", v);
		snprintf(c->node, sizeof(c->node), "%s", v);
		c->flags |= HAS_NODE;
	} else if (!strcmp(key, "underlay-device")) {
		if (!*v || strlen(v) >= sizeof(c->underlay_dev) || strchr(v, '/') || strchr(v, ' '))
			return bad(err, len, key, "'%s' is not an interface name", v);
		snprintf(c->underlay_dev, sizeof(c->underlay_dev), "%s", v);
		c->flags |= HAS_UNDERLAY;
	} else if (!strcmp(key, "underlay-ipv4") || !strcmp(key, "underlay-ipv6")) {
		bool v4 = key[12] == '4';
		struct ip_addr a;

		if (ip_parse(v, &a) || a.family != (v4 ? AF_INET : AF_INET6))
			return bad(err, len, key, "'%s' is not an IPv%c address", v, v4 ? '4' : '6');
		if (v4)
			c->underlay4 = a;
		else
			c->underlay6 = a;
		c->flags |= v4 ? HAS_UNDER4 : HAS_UNDER6;
	} else if (!strcmp(key, "cluster-ipv4") || !strcmp(key, "cluster-ipv6")) {
		bool v4 = key[11] == '4';

		if (cidr_parse(v, &cidr) || cidr.addr.family != (v4 ? AF_INET : AF_INET6) ||
		    !strchr(v, '/'))
			return bad(err, len, key, "'%s' is not an IPv%c CIDR", v, v4 ? '4' : '6');
		if (v4)
			c->pools.cluster4 = cidr;
		else
			c->pools.cluster6 = cidr;
		c->flags |= v4 ? HAS_CLUSTER4 : HAS_CLUSTER6;
	} else if (!strcmp(key, "block-ipv4-len")) {
		if ((ret = set_uint(&n, key, v, 1, 30, err, len)))
			return ret;
		c->pools.block4_len = (uint8_t)n;
		c->flags |= HAS_BLOCK4;
	} else if (!strcmp(key, "block-ipv6-len")) {
		if ((ret = set_uint(&n, key, v, 1, 120, err, len)))
			return ret;
		c->pools.block6_len = (uint8_t)n;
		c->flags |= HAS_BLOCK6;
	} else if (!strcmp(key, "mode")) {
		if (!strcmp(v, "vxlan"))
			c->mode = MODE_VXLAN;
		else if (!strcmp(v, "native"))
			c->mode = MODE_NATIVE;
		else
			return bad(err, len, key, "'%s' is not vxlan or native", v);
		c->flags |= HAS_MODE;
	} else if (!strcmp(key, "state-dir")) {
		if ((ret = set_str(c->state_dir, sizeof(c->state_dir), key, v, true, err, len)))
			return ret;
		c->flags |= HAS_STATE_DIR;
	} else if (!strcmp(key, "socket")) {
		if (strlen(v) >= 108)
			return bad(err, len, key, "longer than a Unix socket path may be (107)");
		if ((ret = set_str(c->socket, sizeof(c->socket), key, v, true, err, len)))
			return ret;
		c->flags |= HAS_SOCKET;
	} else if (!strcmp(key, "etcd")) {
		if (*v && (ret = check_etcd(v, key, err, len)))
			return ret;
		snprintf(c->etcd, sizeof(c->etcd), "%s", v);
		c->flags |= HAS_ETCD;
	} else if (!strcmp(key, "bpf-pin-dir")) {
		if ((ret = set_str(c->bpf_dir, sizeof(c->bpf_dir), key, v, true, err, len)))
			return ret;
		c->flags |= HAS_BPF_DIR;
	} else if (!strcmp(key, "netns-prefix")) {
		if (strlen(v) >= sizeof(c->netns_prefix) || strpbrk(v, "/ \t"))
			return bad(err, len, key, "'%s' must be at most %zu characters without '/' or spaces",
				   v, sizeof(c->netns_prefix) - 1);
		snprintf(c->netns_prefix, sizeof(c->netns_prefix), "%s", v);
		c->flags |= HAS_NETNS_PFX;
	} else if (!strcmp(key, "policy-backend")) {
		if (!strcmp(v, "ebpf"))
			c->backend = BACKEND_EBPF;
		else if (!strcmp(v, "iptables"))
			c->backend = BACKEND_IPTABLES;
		else
			return bad(err, len, key, "'%s' is not ebpf or iptables", v);
		c->flags |= HAS_BACKEND;
	} else if (!strcmp(key, "etcd-user") || !strcmp(key, "etcd-operator-user")) {
		char *dst = key[5] == 'u' ? c->etcd_user : c->etcd_operator_user;

		if (!name_valid(v))
			return bad(err, len, key, "'%s' is not a user name (letters, digits, '-', '_', '.')", v);
		snprintf(dst, sizeof(c->etcd_user), "%s", v);
	} else if (!strcmp(key, "etcd-password-file") || !strcmp(key, "etcd-operator-password-file")) {
		if ((ret = set_str(key[5] == 'p' ? c->etcd_password_file : c->etcd_operator_password_file,
				   CONFIG_STR, key, v, true, err, len)))
			return ret;
	} else if (!strncmp(key, "tls-", 4) || !strncmp(key, "etcd-", 5)) {
		char *dst = !strcmp(key, "tls-ca") ? c->tls_ca : !strcmp(key, "tls-cert") ? c->tls_cert :
			    !strcmp(key, "tls-key") ? c->tls_key : !strcmp(key, "etcd-ca") ? c->etcd_ca :
			    !strcmp(key, "etcd-cert") ? c->etcd_cert :
			    !strcmp(key, "etcd-key") ? c->etcd_key : NULL;

		if (!dst)
			return bad(err, len, key, "unknown setting");

		if ((ret = set_str(dst, CONFIG_STR, key, v, true, err, len)))
			return ret;
		if (key[0] == 't')
			c->flags |= HAS_TLS;
	} else if (!strcmp(key, "peer-port")) {
		if ((ret = set_uint(&c->peer_port, key, v, 1, 65535, err, len)))
			return ret;
		c->flags |= HAS_PEER_PORT;
	} else if (!strcmp(key, "containers-storage") || !strcmp(key, "containers-runroot")) {
		if ((ret = set_str(key[11] == 's' ? c->storage_root : c->storage_runroot, CONFIG_STR,
				   key, v, true, err, len)))
			return ret;
	} else if (!strcmp(key, "containers-conf")) {
		if ((ret = set_str(c->containers_conf, CONFIG_STR, key, v, true, err, len)))
			return ret;
	} else if (!strcmp(key, "criu")) {
		if ((ret = set_str(c->criu, sizeof(c->criu), key, v, true, err, len)))
			return ret;
		c->flags |= HAS_CRIU;
	} else if (!strcmp(key, "ioam-node-id") || !strcmp(key, "ioam-node-id-wide")) {
		bool wide = key[12] == '-';
		char *end;
		unsigned long long id;

		errno = 0;
		id = strtoull(v, &end, 0);
		if (!*v || *v == '-' || errno || *end || id > (wide ? 0xffffffffffffffULL : 0xffffffULL))
			return bad(err, len, key, "'%s' is not a number in 0-%s", v,
				   wide ? "0xffffffffffffff" : "0xffffff");
		if (wide)
			c->ioam_node_id_wide = id;
		else
			c->ioam_node_id = (uint32_t)id;
		c->flags |= HAS_IOAM_ID;
	} else if (!strcmp(key, "ioam-export-rate")) {
		if ((ret = set_uint(&c->ioam_export_rate, key, v, 1, 1000000, err, len)))
			return ret;
	} else if (!strcmp(key, "conntrack-buckets")) {
		if ((ret = set_uint(&c->conntrack_buckets, key, v, 0, 1 << 24, err, len)))
			return ret;
	} else if (!strcmp(key, "max-cluster-endpoints")) {
		if ((ret = set_uint(&c->max_cluster_endpoints, key, v, 1024, 1 << 24, err, len)))
			return ret;
	} else if (!strcmp(key, "ioam-headroom")) {
		if ((ret = set_uint(&c->ioam_headroom, key, v, 0, 1024, err, len)))
			return ret;
	} else if (!strcmp(key, "underlay-mtu")) {
		if ((ret = set_uint(&c->underlay_mtu, key, v, 1280, 65535, err, len)))
			return ret;
		c->flags |= HAS_MTU;
	} else {
		return bad(err, len, key, "unknown setting");
	}
	return 0;
}

int config_parse(struct petreld_config *c, const char *text, char *err, size_t len)
{
	char seen[32][32];
	int n_seen = 0, lineno = 0;
	const char *p = text;

	while (*p) {
		char line[1024], msg[512], *eq, *key, *val, *end;
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		lineno++;
		if (l >= sizeof(line)) {
			snprintf(err, len, "line %d: longer than %zu characters", lineno, sizeof(line) - 1);
			return -EINVAL;
		}
		memcpy(line, p, l);
		line[l] = 0;
		p += l + (nl ? 1 : 0);
		if ((end = strchr(line, '#')))
			*end = 0;
		key = line;
		while (isspace((unsigned char)*key))
			key++;
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			int klen = (int)strcspn(key, " \t\r");

			snprintf(err, len, "line %d: key '%.*s': missing '=' (expected 'key = value')",
				 lineno, klen > 64 ? 64 : klen, key);
			return -EINVAL;
		}
		val = eq + 1;
		for (end = eq; end > key && isspace((unsigned char)end[-1]); end--)
			;
		*end = 0;
		while (isspace((unsigned char)*val))
			val++;
		for (end = val + strlen(val); end > val && isspace((unsigned char)end[-1]); end--)
			;
		*end = 0;
		for (int i = 0; i < n_seen; i++) {
			if (!strcmp(seen[i], key)) {
				snprintf(err, len, "line %d: key '%.32s': set twice", lineno, key);
				return -EINVAL;
			}
		}
		if (config_set(c, key, val, msg, sizeof(msg))) {
			snprintf(err, len, "line %d: %s", lineno, msg);
			return -EINVAL;
		}
		if (n_seen < 32)
			snprintf(seen[n_seen++], sizeof(seen[0]), "%.31s", key);
	}
	return 0;
}

int config_validate(struct petreld_config *c, char *err, size_t len)
{
	const char *why;
	char buf[CIDR_STRLEN];

	if (!(c->flags & HAS_NODE))
		return bad(err, len, "node", "required (the node's name)");
	if (!(c->flags & HAS_UNDER4))
		return bad(err, len, "underlay-ipv4", "required (this node's address on the underlay)");
	if (ipam_pools_check(&c->pools, &why)) {
		/* The message already names the keys and their values. */
		snprintf(err, len, "%s", why);
		return -EINVAL;
	}
	if (cidr_contains(&c->pools.cluster4, &c->underlay4))
		return bad(err, len, "underlay-ipv4", "%s lies inside cluster-ipv4 %s",
			   ip_str(&c->underlay4, (char[IP_STRLEN]){ 0 }), cidr_str(&c->pools.cluster4, buf));
	if (c->underlay6.family && cidr_contains(&c->pools.cluster6, &c->underlay6))
		return bad(err, len, "underlay-ipv6", "%s lies inside cluster-ipv6 %s",
			   ip_str(&c->underlay6, (char[IP_STRLEN]){ 0 }), cidr_str(&c->pools.cluster6, buf));
	/* Endpoint namespaces are files under /run/netns named prefix + endpoint name. */
	if (strlen(c->netns_prefix) + 63 > NAME_MAX)
		return bad(err, len, "netns-prefix",
			   "'%s' is too long: with a 63-character name it must fit in %d",
			   c->netns_prefix, NAME_MAX);
	if (c->backend == BACKEND_IPTABLES && c->mode != MODE_NATIVE)
		return bad(err, len, "policy-backend", "iptables works with mode = native only "
			   "(the classic setup routes pod prefixes)");
	/* A TLS etcd is checked against its CA; a client certificate comes with its key. */
	if (strstr(c->etcd, "https://") && !*c->etcd_ca)
		return bad(err, len, "etcd-ca", "required with an https:// etcd (the CA of its certificates)");
	if (!*c->etcd_cert != !*c->etcd_key)
		return bad(err, len, *c->etcd_cert ? "etcd-key" : "etcd-cert",
			   "etcd-cert and etcd-key go together");
	if (!*c->etcd_user != !*c->etcd_password_file)
		return bad(err, len, *c->etcd_user ? "etcd-password-file" : "etcd-user",
			   "etcd-user and etcd-password-file go together");
	if (!*c->etcd_operator_user != !*c->etcd_operator_password_file)
		return bad(err, len, *c->etcd_operator_user ? "etcd-operator-password-file" :
			   "etcd-operator-user", "etcd-operator-user and etcd-operator-password-file go together");
	if (!(c->flags & HAS_BPF_DIR))
		snprintf(c->bpf_dir, sizeof(c->bpf_dir), "/sys/fs/bpf/petrel/%s", c->node);
	return 0;
}

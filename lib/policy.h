/* Network policy: the JSON policy language (parse + validate, pure) and its compilation
 * into flat allow/deny entries keyed by endpoint, direction, peer identity, protocol and
 * port prefix, which the datapath looks up at a fixed cost whatever the rule count. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cidr.h"
#include "endpoint.h"

#define POLICY_NAME_MAX   64
#define POLICY_MAX_ITEMS  64     /* selectors, CIDRs or ports per rule */
#define SELECTOR_MAX      16     /* labels per matchLabels */

enum policy_dir { DIR_INGRESS = 0, DIR_EGRESS = 1 };

struct label_selector {
	int n;                                /* 0 matches every endpoint */
	struct ep_label labels[SELECTOR_MAX];
};

struct port_range {
	uint8_t proto;                        /* IPPROTO_TCP/UDP, or 0 for any */
	uint16_t port, end_port;              /* 0/0 = every port */
};

struct policy_rule {
	bool deny;
	enum policy_dir dir;
	int n_selectors, n_cidrs, n_ports;    /* no selector and no CIDR: any peer */
	struct label_selector *selectors;
	struct cidr *cidrs;
	struct port_range *ports;             /* none: every protocol and port */
};

struct policy {
	char name[POLICY_NAME_MAX];
	struct label_selector subject;        /* endpointSelector */
	int n_rules;
	struct policy_rule *rules;
};

/* Parse a policy file: one policy object or an array of them. On error, returns -EINVAL and
 * err names the file, the policy and the field ("f.json: policy 'web': ingress[0].toPorts[1].
 * port: 70000 is outside 1-65535"). */
int policy_parse(const char *text, const char *filename, struct policy **out, size_t *n,
		 char *err, size_t errlen);
void policy_free(struct policy *p, size_t n);
/* Canonical JSON of one policy (for storage); policy_parse reads it back. */
char *policy_encode(const struct policy *p);
bool selector_matches(const struct label_selector *s, const struct ep_label *labels, int n);

/* Port ranges become aligned prefix blocks so an LPM lookup finds them: [lo, hi] splits into
 * at most 30 (port, prefix-bits) pairs. Returns the count written (<= max). */
int port_range_blocks(uint16_t lo, uint16_t hi, uint16_t *ports, uint8_t *bits, int max);

enum policy_verdict { VERDICT_ALLOW = 1, VERDICT_DENY = 2 };

/* A compiled entry: for endpoint ep_id, direction dir, a peer identity (0 = any), a protocol
 * (0 = any) and the port prefix port/port_bits (0 bits = any port). */
struct policy_entry {
	uint32_t ep_id;
	uint8_t dir;
	uint32_t identity;
	uint8_t proto;
	uint16_t port;
	uint8_t port_bits;
	uint8_t verdict;
	uint16_t policy_idx, rule_idx;        /* which policy and rule decided */
};

/* What the compiler needs to know about endpoints and CIDR peers. */
struct policy_subject {
	uint32_t ep_id;                       /* local endpoint */
	const struct ep_label *labels;
	int n_labels;
};
/* A peer identity: an endpoint label set, or a CIDR (then labels is NULL). The reserved
 * identity "world" is a CIDR identity for 0.0.0.0/0 and ::/0 in the caller's list. */
struct identity_ref {
	uint32_t identity;
	const struct ep_label *labels;
	int n_labels;
	struct cidr cidr;                     /* valid when labels == NULL */
};

struct policy_compiled {
	struct policy_entry *entries;
	size_t n, cap;
	/* per subject endpoint: does a policy select it in each direction (default-deny)? */
	struct { uint32_t ep_id; bool ingress, egress; } *enforce;
	size_t n_enforce;
};

/* Compile policies for the local subjects, against every known identity. Deny entries
 * override allow entries they cover, so the datapath's "deny if any lookup denies" rule and
 * LPM's longest match agree. */
int policy_compile(const struct policy *p, size_t n_policies,
		   const struct policy_subject *subjects, size_t n_subjects,
		   const struct identity_ref *ids, size_t n_ids, struct policy_compiled *out);
void policy_compiled_free(struct policy_compiled *c);

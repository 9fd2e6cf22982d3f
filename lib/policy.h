/* Network policy: petrel's policy language (parse + validate, pure), the Cilium and
 * Kubernetes documents translated into it (policy_import.c), and its compilation into flat
 * allow/deny entries keyed by endpoint, direction, peer identity, protocol and port prefix,
 * which the datapath looks up at a fixed cost whatever the rule count (policy_compile.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cidr.h"
#include <jansson.h>
#include "endpoint.h"

#define POLICY_NAME_MAX   64
#define POLICY_MAX_ITEMS  64     /* selectors, CIDRs or ports per rule */
#define SELECTOR_MAX      16     /* labels per matchLabels, expressions per selector, values */

/* An endpoint's Kubernetes namespace is this label (Cilium's name for it); an endpoint
 * without it is in namespace "default", as an object without metadata.namespace is. */
#define POLICY_NAMESPACE_LABEL   "io.kubernetes.pod.namespace"
#define POLICY_NAMESPACE_DEFAULT "default"
/* A namespace's own label K=V is the endpoint label PREFIX.K=V, as Cilium writes it. */
#define POLICY_NAMESPACE_LABELS  "io.cilium.k8s.namespace.labels."

enum policy_dir { DIR_INGRESS = 0, DIR_EGRESS = 1 };

enum selector_op { SEL_IN, SEL_NOT_IN, SEL_EXISTS, SEL_DOES_NOT_EXIST };

struct selector_expr {
	char key[EP_LABEL_MAX];
	enum selector_op op;
	int n_values;                         /* In and NotIn only */
	char values[SELECTOR_MAX][EP_LABEL_MAX];
};

/* matchLabels AND matchExpressions; both empty match every endpoint. */
struct label_selector {
	int n;
	struct ep_label labels[SELECTOR_MAX];
	int n_exprs;
	struct selector_expr *exprs;          /* owned; NULL when n_exprs is 0 */
};

/* Reserved peers a rule may name (fromEntities/toEntities). */
enum policy_entity {
	ENTITY_HOST = 1 << 0,                 /* the node itself */
	ENTITY_WORLD = 1 << 1,                /* everything outside the cluster */
	ENTITY_CLUSTER = 1 << 2,              /* every endpoint, and the nodes */
	ENTITY_ALL = 1 << 3,                  /* any peer */
};

struct port_range {
	uint8_t proto;                        /* IPPROTO_TCP/UDP, or 0 for any */
	uint16_t port, end_port;              /* 0/0 = every port */
};

/* A CIDR peer, less the prefixes its except list carves out. */
struct cidr_peer {
	struct cidr cidr;
	int n_except;
	struct cidr *except;                  /* owned */
};

struct policy_rule {
	bool deny;
	enum policy_dir dir;
	/* Peers are the union of selectors, CIDRs and entities; naming none: any peer. */
	int n_selectors, n_cidrs, n_ports;
	struct label_selector *selectors;
	struct cidr_peer *cidrs;
	unsigned int entities;                /* enum policy_entity bits */
	struct port_range *ports;             /* none: every protocol and port */
};

struct policy {
	char name[POLICY_NAME_MAX];
	struct label_selector subject;        /* endpointSelector */
	/* Default-deny per direction for its subjects: set by a section being present, even
	 * empty ("ingress": [] denies every ingress flow no other policy allows). */
	bool enforce[2];
	int n_rules;
	struct policy_rule *rules;
};

/* Parse a policy file, JSON or YAML (several documents separated by ---). Each document is
 * a petrel policy, an array of them, or a Cilium or Kubernetes policy object (recognised by
 * its kind). On error, returns -EINVAL and err names the file, the policy and the field
 * ("f.json: policy 'web': ingress[0].toPorts[1].port: 70000 is outside 1-65535"). */
int policy_parse(const char *text, const char *filename, struct policy **out, size_t *n,
		 char *err, size_t errlen);
void policy_free(struct policy *p, size_t n);
/* What one policy owns (rules, selectors), not the struct itself. */
void policy_free_contents(struct policy *p);
/* The documents of a policy file as petrel policy objects, in a JSON array: Cilium and
 * Kubernetes kinds translated, petrel's own passed through for policy_parse to check. */
int policy_documents(const char *text, const char *file, json_t **out, char *err, size_t errlen);
/* Canonical JSON of one policy (for storage); policy_parse reads it back. */
char *policy_encode(const struct policy *p);
bool selector_matches(const struct label_selector *s, const struct ep_label *labels, int n);
/* The label's value, or NULL; the namespace label defaults to POLICY_NAMESPACE_DEFAULT. */
const char *label_value(const struct ep_label *labels, int n, const char *key);

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

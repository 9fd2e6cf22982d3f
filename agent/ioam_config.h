/* Internal to agent/ioam.c (programs, maps, traces) and agent/ioam_config.c (the records
 * in cluster state and the API that writes them). */
#pragma once
#include <stdint.h>
#include "agent.h"
#include "cidr.h"
#include "ioam.h"

#define KEY_IOAM_NS    "/petrel/ioam/namespaces/"
#define KEY_IOAM_ENCAP "/petrel/ioam/encap/"
#define KEY_IOAM_ROLES "/petrel/ioam/roles/"

struct encap_rule {
	struct ioam_opt_spec spec;
	uint32_t k, n;
	struct cidr to;
};

struct ns_rec {
	uint16_t id;
	struct ioam_ns v;
};

/* ioam_config.c: every record that decodes, from the cluster cache (caller frees *out). */
int ioam_load_rules(struct agent *a, struct encap_rule **out, size_t *n);
int ioam_load_namespaces(struct agent *a, struct ns_rec **out, size_t *n);
void ioam_rule_key(char *key, size_t len, uint16_t ns, const struct cidr *to);
json_t *ioam_rule_json(const struct encap_rule *r);
json_t *ioam_ns_json(const struct ns_rec *r);

/* ioam.c: the roles and counters of `petrel ioam show`; why this node cannot take IOAM
 * roles (0 when it can). */
json_t *ioam_datapath_json(void);
int ioam_datapath_refusal(struct agent *a, struct api_error *e);

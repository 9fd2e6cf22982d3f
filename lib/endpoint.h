/* The endpoint model shared by agent, CLI and CNI plugin: plain struct, JSON codec, and
 * validation of create requests. Pure code (no kernel access), unit-tested and fuzzed. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "cidr.h"

#define EP_NAME_MAX     64
#define EP_MAX_PUBLISH  16
#define EP_MAX_LABELS   32
#define EP_LABEL_MAX    64

struct ep_publish {
	uint8_t proto;          /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t host_port;
	uint16_t port;
};

struct ep_label {
	char key[EP_LABEL_MAX];
	char value[EP_LABEL_MAX];
};

struct endpoint {
	char name[EP_NAME_MAX];
	char node[EP_NAME_MAX];
	char netns[256];            /* netns name, or a path when provided by a runtime */
	char ifname[16];            /* host side of the veth */
	char state[16];             /* "creating", "ready", "error" */
	struct ip_addr ip4, ip6;
	uint8_t mac[6];
	uint32_t id;
	uint32_t identity;          /* security identity of its label set (lib/identity.h) */
	bool netns_owned;           /* petrel created the netns and deletes it with the endpoint */
	bool moved;                 /* migrated at least once: every node routes its /32 itself */
	/* Migrations so far. Each node writes its own record of an endpoint; while a moved
	 * endpoint's old node has not yet removed its record, the higher epoch is current. */
	uint32_t epoch;
	int n_labels, n_publish;
	struct ep_label labels[EP_MAX_LABELS];
	struct ep_publish publish[EP_MAX_PUBLISH];
};

/* A create request (POST /v1/endpoints). */
struct ep_request {
	char name[EP_NAME_MAX];
	char netns[256];            /* empty: petrel creates "<prefix><name>" */
	char container_ifname[16];  /* empty: "eth0" */
	struct ip_addr want4, want6;  /* addresses asked for (a runtime's static ones); family 0: any */
	int n_labels, n_publish;
	struct ep_label labels[EP_MAX_LABELS];
	struct ep_publish publish[EP_MAX_PUBLISH];
};

/* Parse and validate a create request. On error returns -EINVAL with a message naming
 * the field, e.g. "publish[1].host_port: 70000 is outside 1-65535". */
int ep_request_parse(json_t *body, struct ep_request *req, char *err, size_t errlen);
/* Label keys and values: [A-Za-z0-9._/-], key non-empty, both < 64 chars. */
bool ep_label_valid(const char *key, const char *value);
const char *ep_proto_str(uint8_t proto);           /* "tcp"/"udp" */
int ep_proto_parse(const char *s, uint8_t *proto);

json_t *endpoint_to_json(const struct endpoint *ep);
/* The "labels" object and "publish" array of the JSON forms (endpoints, containers). */
json_t *ep_labels_json(const struct ep_label *labels, int n);
json_t *ep_publish_json(const struct ep_publish *publish, int n);
int endpoint_from_json(json_t *obj, struct endpoint *ep);    /* -EINVAL on missing fields */
/* Encode/decode the stored form (a JSON string). */
char *endpoint_encode(const struct endpoint *ep);
int endpoint_decode(const char *text, struct endpoint *ep);
/* Does the endpoint carry every label of sel? (selector with n pairs) */
bool endpoint_has_labels(const struct endpoint *ep, const struct ep_label *sel, int n);

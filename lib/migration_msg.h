/* The migration protocol's messages between agents, parsed and checked before any of
 * their content is used (pure, and fuzzed: tests/fuzz/fuzz_migration.c). The agents'
 * side of the protocol is agent/migrate/. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "cidr.h"
#include "endpoint.h"

#define MIG_ID_MAX 160          /* NAME-NODE-TIME-SEQ */

/* Ids are made as NAME-NODE-TIME-SEQ from names: lower-case letters, digits and '-' (so
 * never "..", "/" or anything a path could misread), shorter than MIG_ID_MAX. */
bool mig_id_valid(const char *id);

/* A stream connection's opening line: {"op":"stream","id":ID,"kind":KIND}. */
enum mig_stream_kind { MIG_PAGES, MIG_IMAGES, MIG_BUNDLE, MIG_LAZY };
int mig_stream_parse(json_t *hello, char id[MIG_ID_MAX], enum mig_stream_kind *kind);

/* A migrate request's opening line: {"op":"migrate","id":ID,"lazy":bool,"container":{"name":..}}.
 * Only the id, the mode and the container's name are taken from the peer. */
int mig_request_parse(json_t *hello, char id[MIG_ID_MAX], bool *lazy, char name[EP_NAME_MAX]);

/* A migrate request's "descriptors": runc's list of the container's stdio ("pipe:[N]",
 * "/dev/null", ...), at most MIG_DESCRIPTORS_MAX short printable strings. *out gets it as
 * compact JSON for runc's descriptors.json (caller frees); -ENOENT when the request has
 * none, -EINVAL when it is malformed. */
#define MIG_DESCRIPTORS_MAX 16
int mig_descriptors_parse(json_t *hello, char **out);

/* A migrate request's "memory_bytes": the container's memory as its source counts it
 * (what CRIU will dump, about). *bytes is 0 when the request has none (an older source);
 * -EINVAL when it is not a non-negative integer. */
int mig_memory_parse(json_t *hello, uint64_t *bytes);

/* The size in bytes of the destination's images tmpfs, from the memory available there
 * and the container's (0: unknown). Its images and its restored copy must both fit in
 * what is available, with room for the images to have grown since it was counted; 0 when
 * they do not, and the images go to disk. Whatever fits is the tmpfs's size: it bounds
 * what the source may send. */
uint64_t mig_images_tmpfs_size(uint64_t available, uint64_t memory);

/* The claim record /petrel/migrations/NAME. */
struct mig_claim {
	char id[MIG_ID_MAX], from[EP_NAME_MAX], to[EP_NAME_MAX], state[16];
};
int mig_claim_parse(const char *text, struct mig_claim *out);

/* One published-port flow of a restore request's "flows". */
struct mig_flow {
	uint8_t proto;
	struct ip_addr ep, peer, node4, node6;
	uint16_t ep_port, peer_port;
};
int mig_flow_parse(json_t *f, struct mig_flow *out);

/* Internal to agent/container.c, container_api.c and runc.c (the public part is in agent.h). */
#pragma once
#include "agent.h"

/* <bundle of NAME>/LEAF */
void container_bundle_file(struct agent *a, const char *name, const char *leaf, char *buf, size_t len);
/* `runc state NAME`: pid and status ("created", "running", "paused", "stopped"). */
int container_runc_state(struct agent *a, const char *name, int *pid, char *status, size_t len);
/* Stop NAME's log pump; its thread closes the pipes, ends the holder and frees itself. */
void container_pump_stop(const char *name);
/* After a petreld restart: reopen a running container's pipes through its stdio holder
 * and pump them again (no-op when NAME is pumped already). */
void container_pump_adopt(struct agent *a, const char *name);
/* Start fn(arg) on a detached thread; 0 or -errno. */
int thread_detached(void *(*fn)(void *), void *arg);
/* Compare a record with runc's view after an agent restart: adopt or record the end. */
void container_refresh(struct agent *a, struct container *c);
/* NAME's record, which must be on this node (409 naming its node otherwise; verb for the
 * message), refreshed. */
int container_local(struct agent *a, const char *name, struct container *c,
		    const char *verb, struct api_error *e);
/* POST /v1/containers: endpoint, bundle, runc run. */
int container_run(struct agent *a, json_t *body, struct container *c, struct api_error *e);

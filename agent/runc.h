/* Internal to agent/container.c and agent/runc.c (the public part is in agent.h). */
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

/* Named network namespaces, compatible with `ip netns` (/run/netns/NAME bind mounts). */
#pragma once
#include <sys/types.h>

#define NETNS_RUN_DIR "/run/netns"

/* Create /run/netns/NAME. -EEXIST if it already exists. */
int netns_create(const char *name);
/* Kill every process inside NAME, then unmount and remove it. 0 if it does not exist. */
int netns_delete(const char *name);
int netns_exists(const char *name);
/* Open /run/netns/NAME read-only; returns an fd or -errno. */
int netns_open(const char *name);
/* Move the calling thread into NAME's network namespace (setns only: mounts untouched). */
int netns_enter(const char *name);
/* Open the calling thread's current netns; for returning to it with netns_enter_fd(). */
int netns_open_self(void);
int netns_enter_fd(int fd);
/* PIDs of processes whose net namespace is NAME; caller frees *pids. */
int netns_pids(const char *name, pid_t **pids, size_t *n);
/* List names under /run/netns beginning with prefix; caller frees each and the array. */
int netns_list(const char *prefix, char ***names, size_t *n);
/* fork+exec argv inside NAME (net namespace only). Returns child pid, or -errno.
 * Child stdio is inherited unless out_fd >= 0 (then stdout+stderr go there). */
pid_t netns_spawn(const char *name, char *const argv[], int out_fd);

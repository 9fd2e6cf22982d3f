/* The kernel's cgroup-move lock kept warm while a held restore runs.
 *
 * CRIU's restore moves the new task into the container's cgroup. Every move takes the
 * kernel's cgroup_threadgroup_rwsem for writing, a per-CPU rwsem: when nobody has written
 * it for a while it is back in its fast mode for readers, and the next writer waits out an
 * RCU grace period first. That was 11.5 ms of a 24 ms restore of the echo server here, by
 * CRIU's log ("cg: Move into"), inside the freeze; a move within about 10 ms of another
 * takes 0.1-0.2 ms. A restore started late did not pay it: runc's own moves had just
 * warmed the lock. A restore held at the gate (restore_gate.c) started long before, so
 * from the moment the writable layer lands until the restore is done, a thread moves the
 * agent into the cgroup it is already in every few milliseconds: a move that changes
 * nothing, but takes the lock. <state>/no-cgroup-warm turns it off (comparisons). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "migration.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define WARM_EVERY_MS 5
#define WARM_MAX_MS   RESTORE_MS        /* a restore that never ends stops it too */

/* From /proc/self/cgroup: the unified hierarchy's line (mounted at /sys/fs/cgroup or, on
 * a hybrid host, /sys/fs/cgroup/unified), else the first v1 hierarchy's that we may
 * write. Any will do: the lock is the kernel's one for all of them. Read afresh for each
 * restore: an agent that was moved since must not be moved back. */
static bool find_procs(char *procs, size_t len)
{
	static const char *v2[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	static bool told;
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[512];

	*procs = 0;
	while (f && fgets(line, sizeof(line), f) && !*procs)
		for (size_t i = 0; i < 2 && !*procs; i++)
			if (proc_cgroup_procs(line, v2[i], procs, len) || access(procs, W_OK))
				*procs = 0;
	if (f)
		fclose(f);
	if (!*procs && !told)
		log_info("no cgroup.procs of this agent's own found: restores move their task cold");
	told |= !*procs;
	return *procs != 0;
}

static void *warm_main(void *arg)
{
	struct cgroup_warm *w = arg;
	struct pollfd p = { .fd = w->stop, .events = POLLIN };
	int fd = open(w->procs, O_WRONLY | O_CLOEXEC);
	char pid[16];
	int64_t t0 = now_ms();

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	/* one descriptor for every move: each write is a move of its own */
	while (now_ms() - t0 < WARM_MAX_MS) {
		if (fd < 0 || write(fd, pid, strlen(pid)) < 0) {
			log_debug("cgroup warm-up: %s: %s", w->procs, strerror(errno));
			break;
		}
		if (poll(&p, 1, WARM_EVERY_MS) != 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

void cgroup_warm_start(struct agent *a, struct cgroup_warm *w)
{
	if (w->on || state_flag(a, "no-cgroup-warm") || !find_procs(w->procs, sizeof(w->procs)))
		return;
	w->stop = eventfd(0, EFD_CLOEXEC);
	if (w->stop < 0)
		return;
	w->on = pthread_create(&w->thread, NULL, warm_main, w) == 0;
	if (!w->on)
		close(w->stop);
}

void cgroup_warm_stop(struct cgroup_warm *w)
{
	uint64_t one = 1;

	if (!w->on)
		return;
	if (write(w->stop, &one, sizeof(one)) < 0)
		log_warn("cgroup warm-up: cannot stop it: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	close(w->stop);
	w->on = false;
}

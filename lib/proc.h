/* Child processes for the agent's helpers (criu, tar): spawn with chosen descriptors,
 * wait with a deadline, capture output. */
#pragma once
#include <sys/types.h>

/* Start argv[0] (a path) with fds[0..2] as its stdin/stdout/stderr (-1: /dev/null) and,
 * when keep_fd >= 0, that descriptor inherited as fd 3. Returns the pid or -errno. */
pid_t proc_spawn(char *const argv[], const int fds[3], int keep_fd);
/* Wait for pid; SIGKILL it after timeout_ms (< 0: no limit). Returns its exit status
 * (128+N after signal N), or -ETIMEDOUT after killing it. */
int proc_wait(pid_t pid, int timeout_ms);
/* Run to completion, stdout (and stderr) into *out (NUL-terminated, caller frees).
 * Returns the exit status or -errno. */
int proc_output(char *const argv[], char **out, int timeout_ms);

/* Child processes for the agent's helpers (criu, tar): spawn with chosen descriptors,
 * wait with a deadline, capture output. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Start path (a bare name is looked up in PATH) with argv, fds[0..2] as its
 * stdin/stdout/stderr (-1: /dev/null) and, when
 * keep_fd >= 0, that descriptor inherited as fd 3; in a session of its own if setsid. The
 * child starts with no blocked signals and default dispositions, whatever the calling
 * thread had (the agent blocks signals it waits for). Returns the pid or -errno. */
pid_t proc_spawn_ex(const char *path, char *const argv[], const int fds[3], int keep_fd,
		    bool setsid);
/* proc_spawn_ex, with the "NAME=value" entries of extra_env (NULL-terminated; NULL: none)
 * added to the child's environment. */
pid_t proc_spawn_env(const char *path, char *const argv[], const int fds[3], int keep_fd,
		     bool setsid, char *const extra_env[]);
/* proc_spawn_ex(argv[0], argv, fds, keep_fd, true). */
pid_t proc_spawn(char *const argv[], const int fds[3], int keep_fd);
/* Wait for pid; SIGKILL it after timeout_ms (< 0: no limit). Returns its exit status
 * (128+N after signal N), or -ETIMEDOUT after killing it. */
int proc_wait(pid_t pid, int timeout_ms);
/* Run to completion, stdout (and stderr) into *out (NUL-terminated, caller frees).
 * Returns the exit status or -errno. */
int proc_output(char *const argv[], char **out, int timeout_ms);
/* fd is a loopback TCP connection: the process holding its other end, and as which
 * descriptor. -ENOENT when no process holds it. */
int proc_tcp_peer(int fd, pid_t *pid, int *their_fd);
/* pid's parent, by /proc (-errno when pid is gone). */
pid_t proc_parent(pid_t pid);
/* pid is ancestor or one of its descendants (by /proc's parent links). */
bool proc_descends_from(pid_t pid, pid_t ancestor);
/* A child of parent (the first /proc lists), 0 when it has none, by a walk of /proc: for
 * a process known to have one child. */
pid_t proc_first_child(pid_t parent);
/* The first process, by a walk of /proc, whose arguments include each of words as a
 * whole argument; when after is not NULL, it must have that argument too, and the one
 * following it goes into val (vlen bytes). 0 when none does. */
pid_t proc_find_args(const char *const words[], size_t n_words, const char *after, char *val,
		     size_t vlen);
/* One line of /proc/PID/cgroup as the cgroup.procs file of that process's cgroup in the
 * hierarchy the line names: the unified hierarchy's ("0::/path") under v2_mount
 * (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host), a v1 hierarchy's
 * ("N:cpu,cpuacct:/path", "N:name=systemd:/path") under /sys/fs/cgroup/cpu or /systemd.
 * 0, or -EINVAL for a line that is neither or whose path leaves the hierarchy ("/.."),
 * -ENAMETOOLONG when buf is too short. */
int proc_cgroup_procs(const char *line, const char *v2_mount, char *buf, size_t len);
/* pid exists and is not a zombie (for a process that is not our child). */
bool proc_running(pid_t pid);
/* The resident anonymous and shared memory of root and its descendants, in bytes (shared
 * pages counted once per process that maps them): about what a checkpoint of the tree
 * holds. 0 when root is gone. */
uint64_t proc_tree_memory(pid_t root);
/* The same count for a cgroup's tasks, from the text of its memory.stat: v1's total_rss +
 * total_shmem (its whole hierarchy), or v2's anon + shmem (each page once, tmpfs files
 * included, as a checkpoint has them). 0 when the text has neither pair. */
uint64_t memory_stat_dumpable(const char *text);
/* fd is a loopback TCP connection whose other end another local process owns: take a
 * copy of that end (pidfd_getfd) and clear TCP_CORK on it, with TCP_NODELAY set, so what
 * it has queued goes out now and what it writes later goes out at once. Returns 0 or
 * -errno (-ENOENT: no process holds the other end). */
int proc_uncork_tcp_peer(int fd);

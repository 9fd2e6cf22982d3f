/* The checks a migration's loopback relays rely on: which process holds the other end of a
 * loopback TCP connection, and whether it descends from the process we started; and the
 * parent and child links the restore gate follows; and the memory count that sizes a
 * destination's images; and the search by arguments that finds a lazy dump an agent's
 * earlier run left; and the cgroup.procs path a restore's cgroup warm-up writes. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "proc.h"

int main(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;
	pid_t child, peer = 0;

	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(lfd, 1) == 0 &&
	      getsockname(lfd, (struct sockaddr *)&sin, &sl) == 0);
	child = fork();
	if (child == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			pause();
		_exit(1);
	}
	fd = accept(lfd, NULL, NULL);
	CHECK(fd >= 0);
	CHECK(proc_tcp_peer(fd, &peer, NULL) == 0 && peer == child);
	CHECK(proc_descends_from(peer, getpid()));        /* our child: ours */
	CHECK(proc_descends_from(peer, peer));
	CHECK(!proc_descends_from(getpid(), peer));        /* the other way round: not */
	CHECK(!proc_descends_from(getppid(), getpid()));
	CHECK(proc_parent(child) == getpid());
	CHECK(proc_first_child(getpid()) == child);        /* our only child */
	CHECK(proc_first_child(child) == 0);

	/* A grandchild's 32 MiB of touched anonymous memory counts in its ancestors' trees. */
	uint64_t before = proc_tree_memory(child);
	int ready[2];
	char b;

	CHECK(pipe(ready) == 0);
	pid_t grand = fork();

	if (grand == 0) {
		char *m = mmap(NULL, 32 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			_exit(1);
		memset(m, 1, 32 << 20);
		if (write(ready[1], "x", 1) == 1)
			pause();
		_exit(1);
	}
	CHECK(read(ready[0], &b, 1) == 1);
	CHECK(proc_tree_memory(grand) >= 32u << 20);
	CHECK(proc_tree_memory(getpid()) >= proc_tree_memory(grand) + before);
	CHECK(proc_tree_memory(child) == before);            /* not child's: a sibling */
	kill(grand, SIGKILL);
	waitpid(grand, NULL, 0);
	CHECK(proc_tree_memory(grand) == 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	CHECK(proc_parent(child) == -ENOENT);
	close(fd);
	close(lfd);
	/* A cgroup's count: v1's hierarchical totals, not its own rss; v2's anon + shmem. */
	CHECK(memory_stat_dumpable("cache 4096\nrss 8192\nshmem 0\nmapped_file 0\n"
				   "total_cache 4096\ntotal_rss 1048576\ntotal_shmem 65536\n") ==
	      1048576 + 65536);
	CHECK(memory_stat_dumpable("anon 2097152\nfile 409600\nkernel 0\nshmem 4096\n"
				   "anon_thp 0\n") == 2097152 + 4096);
	CHECK(memory_stat_dumpable("file 409600\nfile_mapped 0\n") == 0);
	CHECK(memory_stat_dumpable("anon_thp 5\nshmem_thp 7\n") == 0);  /* prefixes only */
	CHECK(memory_stat_dumpable("") == 0);
	/* A leftover found by its arguments, whole ones only, and the one after a flag; a
	 * zombie no longer runs. */
	{
		char tag[64], val[32] = "";
		const char *words[] = { "checkpoint", tag }, *part[] = { "checkpoin", tag };
		pid_t p;

		snprintf(tag, sizeof(tag), "petrel-test-%d", (int)getpid());
		p = fork();
		if (p == 0) {
			/* sh keeps its arguments (after the script, they are $0...); "; :" keeps
			 * it from becoming sleep */
			setpgid(0, 0);
			execl("/bin/sh", "sh", "-c", "sleep 30; :", "checkpoint", tag, "--page-server",
			      "127.0.0.1:4242", (char *)NULL);
			_exit(1);
		}
		for (int i = 0; i < 100 && proc_find_args(words, 2, NULL, NULL, 0) != p; i++)
			usleep(10000);
		CHECK(proc_find_args(words, 2, "--page-server", val, sizeof(val)) == p);
		CHECK(!strcmp(val, "127.0.0.1:4242"));
		CHECK(proc_find_args(part, 2, NULL, NULL, 0) == 0);
		CHECK(proc_find_args(words, 2, "--lazy-pages", val, sizeof(val)) == 0);
		CHECK(proc_running(p));
		kill(-p, SIGKILL);
		for (int i = 0; i < 100 && proc_running(p); i++)
			usleep(10000);
		CHECK(!proc_running(p));                    /* a zombie until reaped */
		waitpid(p, NULL, 0);
		CHECK(!proc_running(p));
	}
	/* /proc/PID/cgroup lines as the cgroup.procs file the restore's warm-up writes */
	{
		char b[128];

		CHECK(proc_cgroup_procs("0::/user.slice/petreld.scope\n", "/sys/fs/cgroup", b,
					sizeof(b)) == 0 &&
		      !strcmp(b, "/sys/fs/cgroup/user.slice/petreld.scope/cgroup.procs"));
		CHECK(proc_cgroup_procs("0::/\n", "/sys/fs/cgroup/unified", b, sizeof(b)) == 0 &&
		      !strcmp(b, "/sys/fs/cgroup/unified/cgroup.procs"));
		CHECK(proc_cgroup_procs("4:cpu,cpuacct:/lab\n", "-", b, sizeof(b)) == 0 &&
		      !strcmp(b, "/sys/fs/cgroup/cpu/lab/cgroup.procs"));
		CHECK(proc_cgroup_procs("1:name=systemd:/\n", "-", b, sizeof(b)) == 0 &&
		      !strcmp(b, "/sys/fs/cgroup/systemd/cgroup.procs"));
		CHECK(proc_cgroup_procs("garbage", "-", b, sizeof(b)) == -EINVAL);
		CHECK(proc_cgroup_procs("3::/x", "-", b, sizeof(b)) == -EINVAL);
		CHECK(proc_cgroup_procs("0::relative", "-", b, sizeof(b)) == -EINVAL);
		CHECK(proc_cgroup_procs("0::/../../elsewhere", "/sys/fs/cgroup", b, sizeof(b)) ==
		      -EINVAL);
		CHECK(proc_cgroup_procs("0::/a/long/path", "/sys/fs/cgroup", b, 16) == -ENAMETOOLONG);
	}
	return harness_done("test_proc");
}

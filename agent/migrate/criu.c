/* What this node's CRIU and kernel can do for a migration, and small helpers every phase
 * uses: fault injection, a migration's directory, CRIU's readiness pipe, a free port. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "migration.h"
#include "image.h"
#include "compat.h"
#include "log.h"
#include "proc.h"
#include "util.h"

/* Fault injection for tests: a file <state-dir>/fault-NAME makes this node fail at that
 * point of its next migration, once (the file is consumed). Failures the tests need to
 * provoke but cannot time from outside: the destination's agent dying mid-transfer, the
 * source's dying with the container frozen, and a restore that fails on a damaged
 * checkpoint. */
bool fault(struct agent *a, const char *name)
{
	char path[CONFIG_STR + 64];

	snprintf(path, sizeof(path), "%s/fault-%s", a->cfg.state_dir, name);
	if (unlink(path))
		return false;
	log_warn("fault injection: %s", name);
	return true;
}

void fault_pause(struct agent *a, const char *marker)
{
	char path[CONFIG_STR + 64];

	snprintf(path, sizeof(path), "%s/%s", a->cfg.state_dir, marker);
	write_file_atomic(path, "");
	for (int i = 0; i < 100 && access(path, F_OK) == 0; i++)
		usleep(100000);
	unlink(path);
}

long criu_log_ms(const char *path, const char *from, const char *to)
{
	char *text = NULL, *line, *save = NULL;
	double start = from ? -1 : 0, end = -1, t;
	bool seen = false;

	if (read_file(path, &text))
		return -1;
	/* Every line starts "(SS.uuuuuu)": seconds since that CRIU started; some (a script's
	 * path, below the line that runs it) have none. */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool stamped = sscanf(line, " (%lf)", &t) == 1;

		if (from && !seen && strstr(line, from)) {
			seen = true;
			continue;
		}
		if (!stamped)
			continue;
		if (seen && start < 0)
			start = t;
		if (strstr(line, to))
			end = t;
	}
	free(text);
	return start >= 0 && end >= start ? (long)((end - start) * 1000 + 0.5) : -1;
}

/* A migration's directory (images, CRIU's logs) goes once it is over, unless the file
 * <state>/keep-migrations exists: then it stays for a post-mortem, tmpfs and all. */
bool state_flag(struct agent *a, const char *name)
{
	char path[CONFIG_STR + 64];

	snprintf(path, sizeof(path), "%s/%s", a->cfg.state_dir, name);
	return access(path, F_OK) == 0;
}

void remove_dir(struct agent *a, const char *dir)
{
	if (state_flag(a, "keep-migrations")) {
		log_info("keeping %s (keep-migrations)", dir);
	} else {
		images_tmpfs_unmount(dir);
		rm_tree(dir);
	}
}

void local_versions(struct agent *a, struct versions *v)
{
	const char *candidates[] = { a->cfg.criu, CRIU_DEFAULT, "/usr/sbin/criu", "/usr/bin/criu" };
	struct utsname u;
	char why[160];

	memset(v, 0, sizeof(*v));
	uname(&u);
	snprintf(v->kernel, sizeof(v->kernel), "%s", u.release);
	snprintf(v->criu_error, sizeof(v->criu_error), "no CRIU found (set criu = PATH, or run "
		 "scripts/install-criu.sh)");
	/* A configured path is the only one tried: the operator chose it. */
	for (size_t i = 0; i < (*a->cfg.criu ? 1 : sizeof(candidates) / sizeof(candidates[0])); i++) {
		char *argv[] = { (char *)candidates[i], "--version", NULL }, *out = NULL, *ver;

		if (!*candidates[i] || access(candidates[i], X_OK)) {
			if (*a->cfg.criu)
				snprintf(v->criu_error, sizeof(v->criu_error), "criu = %s: %s",
					 a->cfg.criu, strerror(errno));
			continue;
		}
		snprintf(v->criu_path, sizeof(v->criu_path), "%s", candidates[i]);
		if (proc_output(argv, &out, 10000) != 0 || !(ver = strstr(out, "Version: "))) {
			snprintf(v->criu_error, sizeof(v->criu_error), "%s does not run", candidates[i]);
			free(out);
			continue;
		}
		ver += 9;
		ver[strcspn(ver, " \n")] = 0;
		snprintf(v->criu, sizeof(v->criu), "%s", ver);
		free(out);
		if (!criu_usable(v->criu, why, sizeof(why))) {
			snprintf(v->criu_error, sizeof(v->criu_error), "%s: %s", candidates[i], why);
			v->criu[0] = 0;
			continue;
		}
		v->criu_error[0] = 0;
		return;
	}
	v->criu_path[0] = 0;
}

static json_t *versions_json(const struct versions *v)
{
	return json_pack("{s:s, s:s, s:s}", "criu", v->criu, "criu_error", v->criu_error,
			 "kernel", v->kernel);
}

/* Lazy (post-copy) migration: CRIU must support non-cooperative userfaultfd, and its
 * lazy-pages dump needs 4 MiB pipes, which a root without CAP_SYS_RESOURCE only gets when
 * fs.pipe-max-size allows (CRIU then fails with page-pipe tee/splice errors). Even where
 * both hold, a lazy-pages daemon that dies mid-transfer leaves the restored process
 * reading zero pages with no error anywhere; until petrel can detect that, --lazy is
 * refused with the reason, before anything is frozen. */
static bool lazy_supported(const struct versions *v, char *why, size_t len)
{
	char *argv[] = { (char *)v->criu_path, "check", "--feature", "uffd-noncoop", NULL };
	char *out = NULL;
	int p[2], ret;

	if (!*v->criu) {
		snprintf(why, len, "%s", v->criu_error);
		return false;
	}
	ret = proc_output(argv, &out, 10000);
	free(out);
	if (ret) {
		snprintf(why, len, "CRIU reports no non-cooperative userfaultfd on this kernel");
		return false;
	}
	if (pipe2(p, O_CLOEXEC) == 0) {
		ret = fcntl(p[0], F_SETPIPE_SZ, 4 << 20);
		close(p[0]);
		close(p[1]);
		if (ret < 0) {
			snprintf(why, len, "CRIU's lazy-pages dump needs 4 MiB pipes and this host "
				 "allows %s (raise fs.pipe-max-size to 4194304)",
				 errno == EPERM ? "less" : strerror(errno));
			return false;
		}
	}
	return true;
}

/* An image container: does this node have the same image (by id)? Unpacks a layout's
 * layers here if need be, so the restore later finds them ready. */
static void image_probe(struct agent *a, json_t *hello, json_t *reply)
{
	struct container c = { 0 };
	char lower[IMAGE_LOWER_MAX], err[256] = "";
	const char *ref = json_string_value(json_object_get(hello, "image"));
	const char *id = json_string_value(json_object_get(hello, "image_id"));

	if (!ref || !*ref)
		return;
	if (!container_image_ref_valid(ref) || !id || !image_digest_valid(id)) {
		json_object_set_new(reply, "image_error", json_string("malformed image reference"));
		return;
	}
	snprintf(c.image, sizeof(c.image), "%s", ref);
	snprintf(c.image_id, sizeof(c.image_id), "%s", id);
	json_object_set_new(reply, "image", json_boolean(image_lower(a, &c, lower, sizeof(lower), err,
								     sizeof(err)) == 0));
	json_object_set_new(reply, "image_error", json_string(err));
}

void migrate_serve_probe(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	struct versions v;
	const char *rootfs = json_string_value(json_object_get(hello, "rootfs"));
	char why[512] = "";
	json_t *j;

	(void)peer;
	local_versions(a, &v);
	j = versions_json(&v);
	json_object_set_new(j, "node", json_string(a->cfg.node));
	if (json_is_true(json_object_get(hello, "lazy")))
		json_object_set_new(j, "lazy", json_boolean(lazy_supported(&v, why, sizeof(why))));
	json_object_set_new(j, "lazy_error", json_string(why));
	json_object_set_new(j, "rootfs", json_boolean(rootfs && access(rootfs, R_OK | X_OK) == 0));
	image_probe(a, hello, j);
	if (json_is_true(json_object_get(hello, "podman"))) {
		char version[64];

		podman_version(a, version, sizeof(version));
		json_object_set_new(j, "podman", json_string(version));
	}
	peer_send(ssl, j);
}

/* Start argv, which reports readiness by writing a byte to fd 3 (CRIU's --status-fd), and
 * wait for that byte. Returns the pid, or -errno with the process reaped. */
pid_t spawn_ready(char *const argv[], int timeout_ms)
{
	int st[2], fds[3] = { -1, -1, -1 }, ret;
	struct pollfd p;
	pid_t pid;
	char c;

	if (pipe2(st, O_CLOEXEC))
		return -errno;
	pid = proc_spawn(argv, fds, st[1]);
	close(st[1]);
	if (pid < 0) {
		close(st[0]);
		return pid;
	}
	p = (struct pollfd){ .fd = st[0], .events = POLLIN };
	ret = poll(&p, 1, timeout_ms) == 1 && read(st[0], &c, 1) == 1 ? 0 : -EIO;
	close(st[0]);
	if (ret) {
		kill(pid, SIGKILL);
		proc_wait(pid, 5000);
		return ret;
	}
	return pid;
}

int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Iterative pre-copy (CRIU pre-dumps while the container runs, then a final dump of what
 * changed) needs dirty-page tracking, which CRIU (4.2) does only with soft-dirty bits;
 * userfaultfd write-protect, which kernels without them may have, it does not use (see
 * docs/migration.md, "Pre-copy"). Asked for, pre-copy is refused before anything happens,
 * with the reason: on such a kernel, that CRIU cannot track the memory; on a kernel with
 * soft-dirty bits, that petrel's migrations do not pre-dump (they are built and measured
 * on kernels without them), with the two modes that do work. */
int pre_copy_refusal(struct agent *a, bool lazy, struct api_error *e)
{
	struct versions v;
	char *out = NULL, *argv[] = { NULL, "check", "--feature", "mem_dirty_track", NULL };
	int ret;

	if (lazy)
		return api_fail(e, 400, "pick one", "--lazy and --pre-copy exclude each other");
	local_versions(a, &v);
	if (!*v.criu)
		return api_fail(e, 412, "run scripts/install-criu.sh", "this node cannot checkpoint: %s",
				v.criu_error);
	argv[0] = v.criu_path;
	ret = proc_output(argv, &out, 10000);
	free(out);
	if (ret)
		return api_fail(e, 501, "migrate without --pre-copy (the default mode), or with --lazy",
				"iterative pre-copy needs soft-dirty page tracking, which this node's "
				"kernel (%s) lacks: `criu check --feature mem_dirty_track` says dirty "
				"tracking is off", v.kernel);
	return api_fail(e, 501, "migrate without --pre-copy (the default mode), or with --lazy",
			"petrel's migrations do not pre-dump: the default mode restores the "
			"destination while the source is frozen, and --lazy keeps the freeze flat "
			"as memory grows");
}

/* CRIU probes the kernel at every start (about 25 ms, twice inside each freeze) unless it
 * finds its cache, /run/criu.kdat, which it only writes when /run is a tmpfs, so that a
 * reboot clears it. Where /run is not one, the agent makes the cache at each start (so
 * at least once per boot) with CRIU run in a private mount namespace over a tmpfs /run,
 * and installs it where CRIU reads it. */
void criu_kdat_refresh(struct agent *a)
{
	struct versions v;
	struct statfs s;
	char *out = NULL;
	char *argv[] = { "/bin/sh", "-c",
		"unshare -m sh -c 'mount -t tmpfs petrel-kdat /run && \"$0\" check >/dev/null 2>&1; "
		"cat /run/criu.kdat' \"$0\" > /run/criu.kdat.petrel && [ -s /run/criu.kdat.petrel ] && "
		"mv /run/criu.kdat.petrel /run/criu.kdat || { rm -f /run/criu.kdat.petrel; exit 1; }",
		NULL, NULL };

	if (statfs("/run", &s) || s.f_type == TMPFS_MAGIC)
		return;
	local_versions(a, &v);
	if (!*v.criu)
		return;
	argv[3] = v.criu_path;
	if (proc_output(argv, &out, 10000))
		log_warn("cannot make CRIU's kernel cache: %s", out ? out : "?");
	else
		log_debug("CRIU's kernel cache made in /run/criu.kdat (/run is not a tmpfs)");
	free(out);
}


/* The migration's wire, on the agents' mutual-TLS channel (agent/peer.c): a control
 * connection per migration ("migrate"), and stream connections ("stream") that carry the
 * memory pages to CRIU's page server, and the images and the writable layer as compressed
 * tar. The destination finds a stream's migration by id in the incoming registry. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <archive.h>
#include <archive_entry.h>
#include "migration.h"
#include "log.h"
#include "proc.h"
#include "util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct incoming *incoming;

/* CRIU's page protocol ends with small requests and acks: Nagle and delayed ACKs on the
 * loopback legs of the relay would hold each of them for tens of milliseconds. */
void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* A stream connection of one kind to the destination, which unpacks what comes on it. */
SSL *dial_stream(struct agent *a, const char *to, const char *id, const char *kind,
		 struct api_error *e)
{
	json_t *hello = json_pack("{s:s, s:s, s:s}", "op", "stream", "id", id, "kind", kind);
	SSL *ssl = peer_dial(a, to, hello, e);

	json_decref(hello);
	return ssl;
}

/* CRIU's images: a flat directory of regular files, written as a tar stream by a thread
 * of the agent (libarchive) rather than by a tar process, whose start (exec, libraries)
 * took 5-10 ms of the freeze. */
struct images_tar {
	const char *dir;
	int fd;                 /* the pipe's write end, closed at the end */
	int ret;
};

static int images_tar_file(struct archive *ar, int dirfd, const char *name)
{
	char buf[65536], path[NAME_MAX + 3];
	struct archive_entry *ent;
	struct stat st;
	ssize_t n = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), ret = 0;

	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode))
		goto out;
	if (!(ent = archive_entry_new())) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(path, sizeof(path), "./%s", name);
	archive_entry_copy_stat(ent, &st);
	archive_entry_set_pathname(ent, path);
	if (archive_write_header(ar, ent) != ARCHIVE_OK)
		ret = -EIO;
	while (!ret && (n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(ar, buf, (size_t)n) != n)
			ret = -EIO;
	if (!ret && n < 0)
		ret = -errno;
	archive_entry_free(ent);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static void *images_tar_main(void *arg)
{
	struct images_tar *t = arg;
	struct archive *ar = archive_write_new();
	struct dirent *de;
	DIR *dh = opendir(t->dir);

	t->ret = !ar || !dh ? -errno ?: -ENOMEM : 0;
	if (!t->ret && (archive_write_set_format_pax_restricted(ar) != ARCHIVE_OK ||
			archive_write_open_fd(ar, t->fd) != ARCHIVE_OK))
		t->ret = -EIO;
	while (!t->ret && (de = readdir(dh)))
		if (de->d_name[0] != '.')
			t->ret = images_tar_file(ar, dirfd(dh), de->d_name);
	if (ar && archive_write_close(ar) != ARCHIVE_OK && !t->ret)
		t->ret = -EIO;
	archive_write_free(ar);
	if (dh)
		closedir(dh);
	close(t->fd);
	return NULL;
}

/* dir as a tar stream (kind "images" or "bundle") on ssl (dialled with dial_stream; closed
 * here), or on a new one. confirm: wait for the destination to say it unpacked everything.
 * The images do not: the restore request follows them at once, and the destination waits
 * for its streams before it restores (and fails the restore if one failed). */
int send_dir(struct mig *m, const char *kind, const char *dir, SSL *ssl, bool confirm,
		    uint64_t *raw, uint64_t *wire, struct api_error *e)
{
	/* The bundle goes as its config, its writable layer and its captured output (so
	 * `petrel logs` continues): not its mount point and overlay work dir, nor this
	 * node's runtime files (the destination's restore runs before they would land). */
	char *argv[] = { "/bin/tar", "-C", (char *)dir, "--xattrs", "--xattrs-include=trusted.*",
			 "--numeric-owner", "--exclude=./rootfs", "--exclude=./work",
			 "--exclude=./" CT_CRIU_CONF, "--exclude=./" CT_PID_FILE, "--exclude=./runc.log",
			 "--exclude=./stdio.pid", "-cf", "-", ".", NULL };
	struct relay_opts o = { .compress_out = true, .read_fd = true, .idle_ms = STREAM_WAIT_MS };
	struct relay_stats st;
	int p[2], fds[3] = { -1, -1, -1 }, ret, status;
	json_t *r;
	pid_t pid;

	if (!ssl && !(ssl = dial_stream(m->a, m->to, m->id, kind, e)))
		return -1;
	if (pipe2(p, O_CLOEXEC)) {
		tls_close(ssl);
		return api_fail(e, 500, NULL, "pipe: %s", strerror(errno));
	}
	if (!strcmp(kind, "images")) {
		struct images_tar t = { .dir = dir, .fd = p[1] };
		pthread_t th;

		if ((ret = pthread_create(&th, NULL, images_tar_main, &t))) {
			close(p[1]);
			ret = -ret;
		} else {
			ret = relay_run(p[0], ssl, &o, &st);
			close(p[0]);    /* a relay that failed: the writer's next write fails */
			pthread_join(th, NULL);
		}
		pid = 0;
		status = t.ret ? -1 : 0;
	} else {
		fds[1] = p[1];
		pid = proc_spawn(argv, fds, -1);
		close(p[1]);
		ret = pid < 0 ? (int)pid : relay_run(p[0], ssl, &o, &st);
		close(p[0]);
		status = pid < 0 ? -1 : proc_wait(pid, STREAM_WAIT_MS);
	}
	r = ret || !confirm ? NULL : peer_recv(ssl);
	tls_close(ssl);
	*raw = st.raw_out;
	*wire = st.wire_out;
	if (ret || status || (confirm && !json_is_true(json_object_get(r, "ok")))) {
		api_fail(e, 502, NULL, "sending the %s to %s failed: %s", kind, m->to,
			 r ? json_string_value(json_object_get(r, "error")) ?: "?" :
			 status ? "tar failed" : strerror(-ret ? -ret : EIO));
		json_decref(r);
		return -1;
	}
	json_decref(r);
	return 0;
}

int relay_to_local(int port, pid_t server, SSL *ssl, const struct relay_opts *o,
		   struct relay_stats *st)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;
	pid_t peer = 0;

	if (fd < 0)
		return -errno;
	nodelay(fd);
	ret = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ? -errno : -EPERM;
	/* Ours must be the connection the server accepted: another local process that got to
	 * its port first would be served instead, and ours would wait in the backlog. */
	for (int i = 0; ret == -EPERM && i < 200; i++) {
		if (proc_tcp_peer(fd, &peer, NULL) == 0 && proc_descends_from(peer, server))
			ret = 0;
		else
			usleep(10000);
	}
	if (ret == -EPERM)
		log_err("the CRIU server on port %d (pid %d) did not take our connection: another "
			"process may have; refusing", port, (int)server);
	if (!ret)
		ret = relay_run(fd, ssl, o, st);
	close(fd);
	return ret;
}

/* ---- the incoming registry (destination side) ---- */

/* A stream's hold on its migration: incoming_remove waits until every stream let go, so
 * a failing migration never frees what a stream thread still writes to. */
static struct incoming *incoming_get(const char *id)
{
	struct incoming *in;

	pthread_mutex_lock(&mu);
	for (in = incoming; in; in = in->next)
		if (!strcmp(in->id, id)) {
			in->refs++;
			break;
		}
	pthread_mutex_unlock(&mu);
	return in;
}

static void incoming_put(struct incoming *in)
{
	pthread_mutex_lock(&mu);
	in->refs--;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

void incoming_add(struct incoming *in)
{
	pthread_mutex_lock(&mu);
	in->next = incoming;
	incoming = in;
	pthread_mutex_unlock(&mu);
}

void incoming_remove(struct incoming *gone)
{
	pthread_mutex_lock(&mu);
	for (struct incoming **p = &incoming; *p; p = &(*p)->next)
		if (*p == gone) {
			*p = gone->next;
			break;
		}
	while (gone->refs)        /* streams end on their own: EOF, error or idle timeout */
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

/* Wait until the source's pages, images and writable layer all arrived (3 streams). */
int incoming_wait_streams(struct incoming *in)
{
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STREAM_WAIT_MS / 1000;
	pthread_mutex_lock(&mu);
	while (in->streams_done + in->streams_failed < (in->lazy ? 2 : 3) && ret == 0)
		ret = pthread_cond_timedwait(&cv, &mu, &deadline);
	ret = in->streams_failed ? -EPROTO : ret ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&mu);
	return ret;
}

/* What a tar stream may unpack into dir: the file system's free space but 5% of its size,
 * so a stream that decompresses to far more than it weighed stops before the disk fills. */
static uint64_t disk_budget(const char *dir)
{
	struct statvfs v;
	uint64_t free_b, reserve;

	if (statvfs(dir, &v))
		return 1;       /* unknown: take nothing */
	free_b = (uint64_t)v.f_bavail * v.f_frsize;
	reserve = (uint64_t)v.f_blocks * v.f_frsize / 20;
	return free_b > reserve ? free_b - reserve : 1;
}

static void migrate_serve_stream(struct agent *a, SSL *ssl, const char *peer, json_t *hello)
{
	static const char *kinds[] = { "pages", "images", "bundle", "lazy" };
	enum mig_stream_kind k;
	char id[MIG_ID_MAX];
	const char *kind;
	struct relay_opts o = { .decompress_in = true, .write_fd = true, .idle_ms = STREAM_WAIT_MS };
	struct relay_stats st = { 0 };
	struct incoming *in;
	int ret = -EINVAL;

	if (mig_stream_parse(hello, id, &k)) {
		peer_reply_error(ssl, "malformed stream request");
		return;
	}
	kind = kinds[k];
	if (k == MIG_LAZY && lazy_serve_stream(id, peer, ssl))
		return;
	in = incoming_get(id);
	/* A stream belongs to the node that opened the migration, and no other. */
	if (!in || strcmp(peer, in->source)) {
		if (in)
			log_warn("migration %s: %s stream from %s refused (the source is %s)", id, kind,
				 peer, in->source);
		peer_reply_error(ssl, "no migration '%s' from %s is being prepared here", id, peer);
		if (in)
			incoming_put(in);
		return;
	}
	if (k == MIG_PAGES) {
		o.read_fd = true;      /* the page server answers some requests */
		o.max_in = disk_budget(in->images);
		ret = relay_run(in->page_fd, ssl, &o, &st);
	} else if (k == MIG_IMAGES || k == MIG_BUNDLE) {
		if (k == MIG_IMAGES && fault(a, "exit-in-transfer")) {
			/* The connection comes before the freeze; the images once it is dumped. */
			struct pollfd pf = { .fd = SSL_get_fd(ssl), .events = POLLIN };

			poll(&pf, 1, STREAM_WAIT_MS);
			_exit(3);
		}
		char *dir = k == MIG_IMAGES ? in->images : in->bundle;
		char *argv[] = { "/bin/tar", "-C", dir, "--xattrs", "--xattrs-include=trusted.*",
				 "--numeric-owner", "-xpf", "-", NULL };
		int p[2], fds[3] = { -1, -1, -1 };
		pid_t pid;

		mkdir_p(dir, 0755);
		o.max_in = disk_budget(dir);
		if (pipe2(p, O_CLOEXEC) == 0) {
			fds[0] = p[0];
			pid = proc_spawn(argv, fds, -1);
			close(p[0]);
			ret = pid < 0 ? (int)pid : relay_run(p[1], ssl, &o, &st);
			close(p[1]);
			if (pid > 0 && proc_wait(pid, STREAM_WAIT_MS) != 0 && !ret)
				ret = -EPROTO;
		}
		if (ret)
			peer_reply_error(ssl, "unpacking the %s failed: %s", kind, strerror(-ret));
		else
			peer_send(ssl, json_pack("{s:b}", "ok", 1));
		if (!ret && k == MIG_BUNDLE)
			bundle_landed(a, in);
	}
	pthread_mutex_lock(&mu);
	if (ret)
		in->streams_failed++;
	else
		in->streams_done++;
	in->bytes += st.raw_in;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	incoming_put(in);
	log_info("migration %s: %s stream: %llu bytes (%llu on the wire)%s", id, kind,
		 (unsigned long long)st.raw_in, (unsigned long long)st.wire_in,
		 ret ? ", failed" : "");
}


int migrate_register(struct agent *a)
{
	return peer_register("probe", migrate_serve_probe) ?: peer_register("migrate", migrate_serve) ?:
	       peer_register("stream", migrate_serve_stream);
}

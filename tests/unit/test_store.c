/* Store conformance: the same checks against SQLite and against a real etcd that the test
 * starts on loopback (skipped with a reason when etcd is not installed). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "harness.h"
#include "store.h"

static void conformance(struct store *s)
{
	struct store_kv *kvs;
	size_t n;
	char *v;
	int64_t rev, rev2, lease;

	CHECK(store_get(s, "/t/none", &v, NULL) == -ENOENT);
	CHECK(store_put(s, "/t/a", "{\"x\":1}", 0) == 0);
	CHECK(store_get(s, "/t/a", &v, &rev) == 0);
	CHECK_STR(v, "{\"x\":1}");
	free(v);
	CHECK(store_create(s, "/t/a", "other", 0) == -EEXIST);
	CHECK(store_create(s, "/t/b", "b", 0) == 0);
	CHECK(store_create(s, "/t/b%_", "odd chars", 0) == 0);
	CHECK(store_put(s, "/u/c", "c", 0) == 0);
	CHECK(store_cas(s, "/t/a", "new", rev) == 0);
	CHECK(store_cas(s, "/t/a", "stale", rev) == -EAGAIN);
	CHECK(store_get(s, "/t/a", &v, &rev2) == 0 && rev2 > rev);
	CHECK_STR(v, "new");
	free(v);
	CHECK(store_list(s, "/t/", &kvs, &n, &rev) == 0);
	CHECK(n == 3);
	if (n == 3) {
		CHECK_STR(kvs[0].key, "/t/a");
		CHECK_STR(kvs[1].key, "/t/b");
		CHECK_STR(kvs[2].key, "/t/b%_");
		CHECK(rev >= kvs[0].mod_revision);
	}
	store_kvs_free(kvs, n);
	CHECK(store_delete(s, "/t/b") == 0);
	CHECK(store_delete(s, "/t/b") == 0);
	CHECK(store_get(s, "/t/b", &v, NULL) == -ENOENT);
	CHECK(store_lease_grant(s, 5, &lease) == 0 && lease != 0);
	CHECK(store_put(s, "/alive/x", "1", lease) == 0);
	CHECK(store_lease_keepalive(s, lease) == 0);
}

struct watch_arg {
	struct store *s;
	int events;
	char log[256];
};

static int on_event(const struct store_event *ev, void *arg)
{
	struct watch_arg *w = arg;
	size_t l = strlen(w->log);

	snprintf(w->log + l, sizeof(w->log) - l, "%s%s;", ev->type == STORE_PUT ? "+" : "-", ev->key);
	return ++w->events >= 3;
}

static void *watcher(void *arg)
{
	struct watch_arg *w = arg;
	int64_t rev = 0;
	struct store_kv *kvs;
	size_t n;

	store_list(w->s, "/w/", &kvs, &n, &rev);
	store_kvs_free(kvs, n);
	store_watch(w->s, "/w/", rev + 1, on_event, w);
	return NULL;
}

static void test_watch(struct store *s)
{
	struct watch_arg w = { .s = s };
	pthread_t t;

	pthread_create(&t, NULL, watcher, &w);
	usleep(500 * 1000);
	store_put(s, "/w/1", "a", 0);
	store_put(s, "/other", "x", 0);
	store_put(s, "/w/2", "b", 0);
	store_delete(s, "/w/1");
	for (int i = 0; i < 50 && w.events < 3; i++)
		usleep(100 * 1000);
	store_watch_stop(s);
	pthread_join(t, NULL);
	CHECK_STR(w.log, "+/w/1;+/w/2;-/w/1;");

	/* store_watch_stop ends a watch that sees no event */
	struct watch_arg quiet = { .s = s };
	pthread_create(&t, NULL, watcher, &quiet);
	usleep(300 * 1000);
	store_watch_stop(s);
	pthread_join(t, NULL);
	CHECK(quiet.events == 0);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

int main(void)
{
	char dir[] = "/tmp/petrel-store-XXXXXX", path[128], cmd[256];
	struct store *s;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	CHECK(store_open_sqlite(&s, path) == 0);
	conformance(s);
	CHECK(store_watch(s, "/w/", 0, on_event, NULL) == -ENOTSUP);
	CHECK_STR(store_backend(s), "sqlite");
	store_close(s);
	/* reopening keeps the data */
	CHECK(store_open_sqlite(&s, path) == 0);
	char *v = NULL;
	CHECK(store_get(s, "/t/a", &v, NULL) == 0);
	free(v);
	store_close(s);

	if (access("/usr/bin/etcd", X_OK)) {
		printf("SKIP etcd half: /usr/bin/etcd is not installed\n");
	} else {
		int cport = free_port(), pport = free_port();
		char curl[64], purl[64], data[160];
		pid_t pid;

		snprintf(curl, sizeof(curl), "http://127.0.0.1:%d", cport);
		snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", pport);
		snprintf(data, sizeof(data), "%s/etcd", dir);
		CHECK(store_open_etcd(&s, curl) == -ECONNREFUSED);
		pid = fork();
		if (pid == 0) {
			freopen("/dev/null", "w", stdout);
			freopen("/dev/null", "w", stderr);
			execl("/usr/bin/etcd", "etcd", "--data-dir", data, "--listen-client-urls", curl,
			      "--advertise-client-urls", curl, "--listen-peer-urls", purl,
			      "--initial-advertise-peer-urls", purl, "--initial-cluster",
			      (snprintf(path, sizeof(path), "default=%s", purl), path), NULL);
			_exit(127);
		}
		int ret = -1;
		for (int i = 0; i < 100 && ret; i++) {
			usleep(100 * 1000);
			ret = store_open_etcd(&s, curl);
		}
		CHECK(ret == 0);
		if (ret == 0) {
			CHECK_STR(store_backend(s), "etcd");
			conformance(s);
			test_watch(s);
			store_close(s);
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return harness_done("test_store");
}

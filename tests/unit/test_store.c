/* Store conformance: the same checks against SQLite and against a real etcd that the test
 * starts on loopback (that half is skipped with a reason when etcd is not installed). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "harness.h"
#include "store.h"
#include "etcd_auth.h"
#include "util.h"

static int64_t list_rev(struct store *s)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	int64_t rev = -1;

	if (store_list(s, "/nothing-here/", &kvs, &n, &rev))
		return -1;
	store_kvs_free(kvs, n);
	return rev;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void conformance(struct store *s)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	char *v = NULL;
	int64_t rev, rev2, r0, lease, lease2;

	CHECK(store_get(s, "/t/none", &v, NULL) == -ENOENT);
	r0 = list_rev(s);
	CHECK(store_put(s, "/t/a", "{\"x\":1}", 0) == 0);
	CHECK(list_rev(s) > r0);                                   /* every write bumps the revision */
	CHECK(store_get(s, "/t/a", &v, &rev) == 0);
	CHECK_STR(v, "{\"x\":1}");
	free(v);
	CHECK(rev == list_rev(s));
	CHECK(store_get(s, "/t/a", &v, NULL) == 0);                /* rev optional */
	free(v);

	/* create: only when absent */
	CHECK(store_create(s, "/t/a", "other", 0) == -EEXIST);
	CHECK(store_get(s, "/t/a", &v, &rev2) == 0 && rev2 == rev);
	CHECK_STR(v, "{\"x\":1}");
	free(v);
	CHECK(store_create(s, "/t/b", "b", 0) == 0);
	CHECK(store_create(s, "/t/b%_", "odd chars", 0) == 0);     /* LIKE wildcards are plain bytes */
	CHECK(store_create(s, "/t%", "wildcard sibling", 0) == 0);
	CHECK(store_create(s, "/t0", "next byte after '/'", 0) == 0);
	CHECK(store_put(s, "/u/c", "c", 0) == 0);

	/* cas: only while the mod_revision still matches; never creates */
	CHECK(store_cas(s, "/t/a", "new", rev) == 0);
	CHECK(store_cas(s, "/t/a", "stale", rev) == -EAGAIN);
	CHECK(store_get(s, "/t/a", &v, &rev2) == 0 && rev2 > rev);
	CHECK_STR(v, "new");
	free(v);
	CHECK(store_cas(s, "/t/absent", "x", 0) == -EAGAIN);
	CHECK(store_cas(s, "/t/absent", "x", rev2) == -EAGAIN);
	CHECK(store_get(s, "/t/absent", &v, NULL) == -ENOENT);

	/* values: empty, quotes, newlines, UTF-8 */
	CHECK(store_put(s, "/v/empty", "", 0) == 0);
	CHECK(store_get(s, "/v/empty", &v, NULL) == 0);
	CHECK_STR(v, "");
	free(v);
	CHECK(store_put(s, "/v/odd", "line1\n\"q\" \\ é ✓ =", 0) == 0);
	CHECK(store_get(s, "/v/odd", &v, NULL) == 0);
	CHECK_STR(v, "line1\n\"q\" \\ é ✓ =");
	free(v);
	CHECK(store_put(s, "/v/é ✓", "x", 0) == 0);
	CHECK(store_get(s, "/v/é ✓", &v, NULL) == 0);
	free(v);

	/* list: prefix range, sorted, nothing outside */
	CHECK(store_list(s, "/t/", &kvs, &n, &rev) == 0);
	CHECK(n == 3);
	if (n == 3) {
		CHECK_STR(kvs[0].key, "/t/a");
		CHECK_STR(kvs[1].key, "/t/b");
		CHECK_STR(kvs[2].key, "/t/b%_");
		CHECK_STR(kvs[0].value, "new");
		CHECK(kvs[0].mod_revision == rev2);
		CHECK(rev >= kvs[0].mod_revision && kvs[0].mod_revision > kvs[1].mod_revision);
	}
	store_kvs_free(kvs, n);
	CHECK(store_list(s, "/t/b", &kvs, &n, NULL) == 0 && n == 2);
	store_kvs_free(kvs, n);
	CHECK(store_list(s, "/t%", &kvs, &n, NULL) == 0 && n == 1);
	store_kvs_free(kvs, n);
	CHECK(store_list(s, "/none/", &kvs, &n, &rev) == 0 && n == 0 && rev > 0);
	store_kvs_free(kvs, n);
	CHECK(store_list(s, "", &kvs, &n, NULL) == 0 && n == 9);   /* empty prefix: everything */
	if (n == 9) {
		for (size_t i = 1; i < n; i++)
			CHECK(strcmp(kvs[i - 1].key, kvs[i].key) < 0);
	}
	store_kvs_free(kvs, n);

	/* delete: 0 also when absent, which does not bump the revision */
	CHECK(store_delete(s, "/t/b") == 0);
	rev = list_rev(s);
	CHECK(store_delete(s, "/t/b") == 0);
	CHECK(list_rev(s) == rev);
	CHECK(store_get(s, "/t/b", &v, NULL) == -ENOENT);
	CHECK(store_create(s, "/t/b", "again", 0) == 0);            /* re-creatable */

	/* leases: granted with distinct ids, usable on puts, kept alive */
	CHECK(store_lease_grant(s, 5, &lease) == 0 && lease != 0);
	CHECK(store_lease_grant(s, 5, &lease2) == 0 && lease2 != 0 && lease2 != lease);
	CHECK(store_put(s, "/alive/x", "1", lease) == 0);
	CHECK(store_create(s, "/alive/y", "1", lease2) == 0);
	CHECK(store_lease_keepalive(s, lease) == 0);
	CHECK(store_get(s, "/alive/x", &v, NULL) == 0);
	free(v);
}

/* Two threads race to increment one counter with CAS and to create the same keys: the
 * total must come out exact and each key must have exactly one creator. */
struct race {
	struct store *s;
	int increments, creates, errors;
};

#define RACE_ROUNDS 40

static void *racer(void *arg)
{
	struct race *r = arg;
	char key[64], *v, val[32];
	int64_t rev;

	for (int i = 0; i < RACE_ROUNDS; i++) {
		snprintf(key, sizeof(key), "/race/k%d", i);
		int ret = store_create(r->s, key, "mine", 0);
		if (ret == 0)
			r->creates++;
		else if (ret != -EEXIST)
			r->errors++;
		for (int tries = 0; tries < 100; tries++) {
			if (store_get(r->s, "/race/counter", &v, &rev)) {
				r->errors++;
				break;
			}
			snprintf(val, sizeof(val), "%d", atoi(v) + 1);
			free(v);
			ret = store_cas(r->s, "/race/counter", val, rev);
			if (ret == 0) {
				r->increments++;
				break;
			}
			if (ret != -EAGAIN) {
				r->errors++;
				break;
			}
		}
	}
	return NULL;
}

/* The migration commit's fence: two parties expecting the same revision of a claim, one
 * committing three keys at once and one aborting; exactly one wins, and all or nothing of
 * the winner's writes land. */
static void test_txn(struct store *s)
{
	int64_t rev = 0, after = 0;
	char *v = NULL;
	const struct store_op commit[] = {
		{ "/m/claim", "{\"state\":\"committed\"}" }, { "/m/ep", "dest" }, { "/m/ct", "dest" },
		{ "/m/gone", NULL },
	};
	const struct store_op abort_op[] = { { "/m/claim", "{\"state\":\"aborted\"}" } };

	CHECK(store_put(s, "/m/ep", "source", 0) == 0);
	CHECK(store_put(s, "/m/gone", "x", 0) == 0);
	CHECK(store_create(s, "/m/claim", "{\"state\":\"claimed\"}", 0) == 0);
	CHECK(store_get(s, "/m/claim", &v, &rev) == 0 && rev > 0);
	free(v);
	CHECK(store_txn_if(s, "/m/claim", rev, commit, 4) == 0);
	CHECK(store_txn_if(s, "/m/claim", rev, abort_op, 1) == -EAGAIN);
	CHECK(store_get(s, "/m/claim", &v, &after) == 0 && after > rev);
	CHECK_STR(v, "{\"state\":\"committed\"}");
	free(v);
	CHECK(store_get(s, "/m/ep", &v, NULL) == 0);
	CHECK_STR(v, "dest");
	free(v);
	CHECK(store_get(s, "/m/ct", &v, NULL) == 0);
	CHECK_STR(v, "dest");
	free(v);
	CHECK(store_get(s, "/m/gone", &v, NULL) == -ENOENT);
	/* A losing commit changes nothing; an absent key never matches. */
	CHECK(store_txn_if(s, "/m/claim", rev, commit, 3) == -EAGAIN);
	CHECK(store_txn_if(s, "/m/none", 0, abort_op, 1) == -EAGAIN);
	CHECK(store_get(s, "/m/claim", &v, &rev) == 0 && rev == after);
	free(v);

	/* No guard key: a policy file's writes, applied together unconditionally. */
	const struct store_op pols[] = { { "/m/p/a", "1" }, { "/m/p/b", "2" }, { "/m/ep", NULL } };
	struct store_kv *kvs = NULL;
	size_t n = 0;

	CHECK(store_txn_if(s, NULL, 0, pols, 3) == 0);
	CHECK(store_list(s, "/m/p/", &kvs, &n, NULL) == 0 && n == 2);
	store_kvs_free(kvs, n);
	CHECK(store_get(s, "/m/ep", &v, NULL) == -ENOENT);
}

static void test_race(struct store *s)
{
	struct race a = { .s = s }, b = { .s = s };
	pthread_t ta, tb;
	char *v = NULL;

	CHECK(store_put(s, "/race/counter", "0", 0) == 0);
	pthread_create(&ta, NULL, racer, &a);
	pthread_create(&tb, NULL, racer, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK(a.errors == 0 && b.errors == 0);
	CHECK(a.creates + b.creates == RACE_ROUNDS);
	CHECK(a.increments + b.increments == 2 * RACE_ROUNDS);
	CHECK(store_get(s, "/race/counter", &v, NULL) == 0);
	CHECK(v && atoi(v) == 2 * RACE_ROUNDS);
	free(v);
}

struct watch_arg {
	struct store *s;
	int64_t start;          /* 0: from the revision after a fresh list */
	int want;               /* stop after this many events (0: never) */
	atomic_int events;
	atomic_int started;
	int ret;
	char log[512];
};

static int on_event(const struct store_event *ev, void *arg)
{
	struct watch_arg *w = arg;
	size_t l = strlen(w->log);

	snprintf(w->log + l, sizeof(w->log) - l, "%s%s=%s;", ev->type == STORE_PUT ? "+" : "-",
		 ev->key, ev->value ? ev->value : "(null)");
	if (ev->mod_revision <= 0)
		snprintf(w->log + strlen(w->log), sizeof(w->log) - strlen(w->log), "norev;");
	return ++w->events >= w->want && w->want;
}

static void *watcher(void *arg)
{
	struct watch_arg *w = arg;
	int64_t rev = 0;
	struct store_kv *kvs = NULL;
	size_t n = 0;

	if (!w->start) {
		store_list(w->s, "/w/", &kvs, &n, &rev);
		store_kvs_free(kvs, n);
		w->start = rev + 1;
	}
	w->started = 1;
	w->ret = store_watch(w->s, "/w/", w->start, on_event, w);
	return NULL;
}

static void wait_events(struct watch_arg *w, int n)
{
	for (int i = 0; i < 100 && w->events < n; i++)
		usleep(50 * 1000);
}

static void test_watch(struct store *s)
{
	struct watch_arg w = { .s = s, .want = 3 };
	pthread_t t;
	double t0;
	int64_t first;
	char *v;

	/* events under the prefix arrive in order; the callback's nonzero return ends the watch */
	pthread_create(&t, NULL, watcher, &w);
	while (!w.started)
		usleep(10 * 1000);
	usleep(300 * 1000);
	store_put(s, "/w/1", "a", 0);
	store_put(s, "/other", "x", 0);
	store_put(s, "/w/2", "b", 0);
	store_delete(s, "/w/1");
	wait_events(&w, 3);
	pthread_join(t, NULL);
	CHECK_STR(w.log, "+/w/1=a;+/w/2=b;-/w/1=(null);");
	CHECK(w.ret == 0);

	/* a start revision in the past replays history from there */
	CHECK(store_get(s, "/w/2", &v, &first) == 0);
	free(v);
	struct watch_arg replay = { .s = s, .start = first, .want = 2 };
	pthread_create(&t, NULL, watcher, &replay);
	wait_events(&replay, 2);
	store_watch_stop(s);      /* in case it did not see them */
	pthread_join(t, NULL);
	CHECK_STR(replay.log, "+/w/2=b;-/w/1=(null);");

	/* store_watch_stop ends a watch that sees no event, promptly */
	struct watch_arg quiet = { .s = s };
	pthread_create(&t, NULL, watcher, &quiet);
	while (!quiet.started)
		usleep(10 * 1000);
	usleep(300 * 1000);
	t0 = now();
	store_watch_stop(s);
	pthread_join(t, NULL);
	CHECK(quiet.events == 0 && quiet.ret == 0);
	CHECK(now() - t0 < 2.5);
	if (now() - t0 >= 2.5)
		fprintf(stderr, "store_watch_stop took %.1f s\n", now() - t0);

	/* a stop that comes before the watch starts is not lost, and is used up by it */
	store_watch_stop(s);
	struct watch_arg early = { .s = s, .start = 1 };
	t0 = now();
	watcher(&early);
	CHECK(early.ret == 0 && now() - t0 < 2.5);
	struct watch_arg later = { .s = s, .want = 1 };
	pthread_create(&t, NULL, watcher, &later);
	while (!later.started)
		usleep(10 * 1000);
	usleep(300 * 1000);
	store_put(s, "/w/3", "c", 0);
	wait_events(&later, 1);
	store_watch_stop(s);
	pthread_join(t, NULL);
	CHECK_STR(later.log, "+/w/3=c;");
}

/* etcd only: an expired lease deletes its keys, and keepalive says the lease is gone. */
static void test_lease_expiry(struct store *s)
{
	int64_t lease;
	char *v = NULL;
	int ret = 0;

	CHECK(store_lease_grant(s, 1, &lease) == 0);   /* etcd rounds up to its minimum TTL */
	CHECK(store_put(s, "/lease/x", "1", lease) == 0);
	for (int i = 0; i < 100; i++) {
		ret = store_get(s, "/lease/x", &v, NULL);
		if (ret)
			break;
		free(v);
		usleep(100 * 1000);
	}
	CHECK(ret == -ENOENT);
	CHECK(store_lease_keepalive(s, lease) == -ENOENT);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	if (fd < 0)
		return 0;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* etcd's path, or NULL: $PATH and the usual places. */
static const char *find_etcd(char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[1024];

	snprintf(dirs, sizeof(dirs), "%s:/usr/bin:/usr/local/bin:/usr/sbin", path ? path : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/etcd", d);
		if (!access(buf, X_OK))
			return buf;
	}
	return NULL;
}

static void test_sqlite(const char *dir)
{
	char path[256], *v = NULL;
	struct store *s;

	snprintf(path, sizeof(path), "%s/state.db", dir);
	CHECK(store_open_sqlite(&s, path) == 0);
	CHECK_STR(store_backend(s), "sqlite");
	conformance(s);
	test_race(s);
	test_txn(s);
	CHECK(store_watch(s, "/w/", 0, on_event, NULL) == -ENOTSUP);
	store_watch_stop(s);      /* harmless */
	store_close(s);
	/* reopening keeps the data */
	CHECK(store_open_sqlite(&s, path) == 0);
	CHECK(store_get(s, "/t/a", &v, NULL) == 0);
	CHECK_STR(v, "new");
	free(v);
	store_close(s);
	snprintf(path, sizeof(path), "%s/no/such/dir/state.db", dir);
	CHECK(store_open_sqlite(&s, path) < 0);
}

/* etcd only, last (it turns authentication on): petrel's roles, a node's user writing its
 * own keys and refused another's (-EACCES), a wrong password refused at open, and a token
 * etcd forgot (2 s TTL here) renewed without the caller noticing. */
static void test_auth(struct store *s, const char *dir, const char *url)
{
	const char *nodes[] = { "n1" };
	struct store_tls tls = { 0 };
	char err[256], path[512], *pw = NULL, *v = NULL;
	struct store *n1 = NULL, *bad = NULL;

	CHECK(etcd_auth_setup_dir(s, nodes, 1, dir, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/etcd-n1.password", dir);
	CHECK(read_file(path, &pw) == 0);
	if (!pw)
		return;
	pw[strcspn(pw, "\n")] = 0;
	snprintf(tls.user, sizeof(tls.user), "n1");
	snprintf(tls.password, sizeof(tls.password), "%s", pw);
	CHECK(store_open_etcd_tls(&n1, url, &tls) == 0);
	if (n1) {
		CHECK(store_put(n1, "/petrel/endpoints/n1/web", "{}", 0) == 0);
		CHECK(store_put(n1, "/petrel/endpoints/n2/web", "{}", 0) == -EACCES);
		CHECK(store_put(n1, "/petrel/nodes/n2", "{}", 0) == -EACCES);
		CHECK(store_put(n1, "/petrel/policies/p", "{}", 0) == -EACCES);
		CHECK(store_get(n1, "/petrel/endpoints/n1/web", &v, NULL) == 0);
		free(v);
		sleep(3);                       /* the token expires */
		CHECK(store_put(n1, "/petrel/nodes/n1", "{}", 0) == 0);
		store_close(n1);
	}
	snprintf(tls.password, sizeof(tls.password), "%s", "wrong");
	CHECK(store_open_etcd_tls(&bad, url, &tls) == -EACCES);
	free(pw);
}

static void test_etcd(const char *dir, const char *etcd)
{
	int cport = free_port(), pport = free_port(), dead = free_port(), ret = -1;
	char curl[64], purl[64], data[256], cluster[96], both[160], log[256];
	struct store *s;
	pid_t pid;

	snprintf(curl, sizeof(curl), "http://127.0.0.1:%d", cport);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", pport);
	snprintf(cluster, sizeof(cluster), "default=%s", purl);
	snprintf(data, sizeof(data), "%s/etcd", dir);
	snprintf(log, sizeof(log), "%s/etcd.log", dir);
	CHECK(store_open_etcd(&s, curl) == -ECONNREFUSED);
	pid = fork();
	if (pid < 0) {
		CHECK(pid >= 0);
		return;
	}
	if (pid == 0) {
		/* etcd must not outlive the test, even if the test crashes */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen("/dev/null", "r", stdin) || !freopen(log, "w", stdout) ||
		    !freopen(log, "a", stderr))
			_exit(126);
		execl(etcd, "etcd", "--name", "default", "--data-dir", data,
		      "--listen-client-urls", curl, "--advertise-client-urls", curl,
		      "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
		      "--initial-cluster", cluster, "--auth-token-ttl", "2", NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && ret; i++) {     /* bounded: 10 s */
		usleep(100 * 1000);
		ret = store_open_etcd(&s, curl);
	}
	CHECK(ret == 0);
	if (ret == 0) {
		CHECK_STR(store_backend(s), "etcd");
		conformance(s);
		test_race(s);
		test_txn(s);
		test_watch(s);
		test_lease_expiry(s);
		store_close(s);

		/* failover: a dead endpoint first, the live one second */
		snprintf(both, sizeof(both), "http://127.0.0.1:%d,%s", dead, curl);
		CHECK(store_open_etcd(&s, both) == 0);
		if (s) {
			char *v = NULL;

			CHECK(store_get(s, "/t/a", &v, NULL) == 0);
			CHECK_STR(v, "new");
			free(v);
			test_auth(s, dir, curl);
			store_close(s);
		}
	} else {
		fprintf(stderr, "etcd did not answer on %s within 10 s; its log is %s\n", curl, log);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	char dir[] = "/tmp/petrel-store-XXXXXX", etcd[256], cmd[300];

	if (!mkdtemp(dir))
		return 1;
	test_sqlite(dir);
	if (!find_etcd(etcd, sizeof(etcd)))
		printf("SKIP etcd half: etcd is not installed (apt-get install etcd-server)\n");
	else
		test_etcd(dir, etcd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return 1;
	return harness_done("test_store");
}

/* Decoding etcd's gateway replies: base64 edge cases (the padding-only value that wrote
 * before its buffer), range replies, and watch lines with compaction and bad events. */
#include <errno.h>
#include <stdlib.h>
#include "harness.h"
#include "etcd_codec.h"

struct seen {
	int puts, deletes;
	char last[64];
};

static int on_event(const struct store_event *ev, void *arg)
{
	struct seen *s = arg;

	if (ev->type == STORE_PUT)
		s->puts++;
	else
		s->deletes++;
	snprintf(s->last, sizeof(s->last), "%s", ev->key);
	return 0;
}

int main(void)
{
	char *p;

	/* round trips, and what must be refused */
	p = etcd_unb64("L3BldHJlbC9ub2Rlcy9uMQ==");
	CHECK_STR(p, "/petrel/nodes/n1");
	free(p);
	p = etcd_unb64("");
	CHECK_STR(p, "");
	free(p);
	CHECK(etcd_unb64(NULL) == NULL);
	CHECK(etcd_unb64("====") == NULL);          /* wrote out[-1] before */
	CHECK(etcd_unb64("=") == NULL);
	CHECK(etcd_unb64("abc") == NULL);           /* not a multiple of 4 */
	CHECK(etcd_unb64("a===") == NULL);
	CHECK(etcd_unb64("AA==") == NULL);          /* decodes to a NUL */
	CHECK(etcd_unb64("@@@@") == NULL);
	p = etcd_b64("petrel");
	CHECK_STR(p, "cGV0cmVs");
	free(p);

	/* a range reply */
	json_t *r = json_loads("{\"header\":{\"revision\":\"42\"},\"kvs\":[{\"key\":\"YQ==\","
			       "\"value\":\"MQ==\",\"mod_revision\":\"7\"},{\"key\":\"Yg==\"}]}", 0, NULL);
	struct store_kv *kvs = NULL;
	size_t n = 0;
	int64_t rev = 0;

	CHECK(etcd_decode_range(r, &kvs, &n, &rev) == 0);
	CHECK(n == 2 && rev == 42 && kvs[0].mod_revision == 7);
	CHECK_STR(kvs[0].key, "a");
	CHECK_STR(kvs[0].value, "1");
	CHECK_STR(kvs[1].value, "");                /* an empty value is left out by the gateway */
	store_kvs_free(kvs, n);
	json_decref(r);
	r = json_loads("{\"kvs\":[{\"key\":\"====\"}]}", 0, NULL);
	CHECK(etcd_decode_range(r, &kvs, &n, &rev) == -EPROTO && n == 0);
	json_decref(r);
	r = json_loads("{\"kvs\":{}}", 0, NULL);
	CHECK(etcd_decode_range(r, &kvs, &n, &rev) == -EPROTO);
	json_decref(r);

	/* watch lines */
	struct seen s = { 0 };
	int err = 0;
	const char *ok = "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\",\"value\":\"MQ==\","
			 "\"mod_revision\":\"3\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"Yg==\"}},"
			 "{\"kv\":{\"key\":\"====\",\"value\":\"MQ==\"}}]}}";

	CHECK(etcd_watch_line(ok, strlen(ok), on_event, &s, &err) == 0 && err == 0);
	CHECK(s.puts == 1 && s.deletes == 1);      /* the undecodable event is dropped */
	CHECK_STR(s.last, "b");
	const char *compacted = "{\"result\":{\"canceled\":true,\"compact_revision\":\"9\"}}";
	CHECK(etcd_watch_line(compacted, strlen(compacted), on_event, &s, &err) == 1 && err == -ESTALE);
	err = 0;
	CHECK(etcd_watch_line("{\"error\":{}}", 12, on_event, &s, &err) == 1 && err == -EIO);
	err = 0;
	CHECK(etcd_watch_line("not json", 8, on_event, &s, &err) == 0 && err == 0);
	return harness_done("test_etcd_codec");
}

/* Policies compiled into this node's datapath, kept by deltas from the cluster cache.
 *
 * Work follows what changed: an endpoint anywhere moves only its own ipcache entries; a
 * label set seen for the first time compiles only its own rows (every row's key holds
 * the peer identity); a policy or one of this node's endpoints changing compiles this
 * node's policy in full, which is proportional to this node, not to the cluster. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include "agent.h"
#include "cluster_cache.h"
#include "identity.h"
#include "log.h"
#include "policy.h"
#include "prefix_set.h"
#include "util.h"

struct ident {
	uint32_t identity;
	unsigned int refs;               /* endpoints with this label set */
	int n_labels;
	struct ep_label *labels;
	char canon[512];                 /* "k=v,k=v", for the flow log */
	UT_hash_handle hh;
};

struct pol_slot {
	char name[POLICY_NAME_MAX];
	size_t index;
	UT_hash_handle hh;
};

struct local_ep {
	char name[EP_NAME_MAX];
	uint32_t id;
	int n_labels;
	struct ep_label *labels;
	UT_hash_handle hh;
};

/* Lock order: the cache's lock, then this one. */
static struct {
	pthread_mutex_t lock;
	struct agent *a;
	struct ident *ids;               /* by identity */
	struct local_ep *locals;         /* by name */
	struct policy *pols;             /* dense, for the compiler */
	size_t n_pols, cap_pols;
	struct pol_slot *slots;          /* by name: the index of each in pols */
	struct cidr *cidrs;              /* the CIDR identities of the compiled policies */
	int n_cidrs;
	uint32_t *fresh;                 /* identities that appeared in this batch */
	size_t n_fresh, cap_fresh;
	bool full, swept;
	int last_error;
	uint64_t full_compiles, partial_compiles;
} ps = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void policy_set(const char *name, const char *text);

uint32_t policy_id_of(const char *name)
{
	return fnv1a32(name) | 1;      /* never 0: 0 stands for default-deny */
}

/* --- identities and local endpoints, from deltas ----------------------------------- */

static struct endpoint *decode_full(const struct cc_entry *e)
{
	struct endpoint *ep = malloc(sizeof(*ep));

	if (ep && endpoint_decode(e->value, ep)) {
		free(ep);
		ep = NULL;
	}
	return ep;
}

static struct ep_label *labels_copy(const struct endpoint *ep)
{
	struct ep_label *l = calloc((size_t)ep->n_labels + 1, sizeof(*l));

	if (l)
		memcpy(l, ep->labels, (size_t)ep->n_labels * sizeof(*l));
	return l;
}

static void ident_ref(const struct cc_entry *e)
{
	uint32_t id = e->u.ep.identity;
	struct ident *it;
	struct endpoint *ep;

	HASH_FIND(hh, ps.ids, &id, sizeof(id), it);
	if (it) {
		it->refs++;
		return;
	}
	ep = decode_full(e);
	it = calloc(1, sizeof(*it));
	if (!ep || !it || !(it->labels = labels_copy(ep))) {
		free(ep);
		free(it);
		ps.full = true;          /* out of memory: the next full compile retries */
		return;
	}
	it->identity = id;
	it->refs = 1;
	it->n_labels = ep->n_labels;
	identity_canonical(ep->labels, ep->n_labels, it->canon, sizeof(it->canon));
	free(ep);
	HASH_ADD(hh, ps.ids, identity, sizeof(it->identity), it);
	if (ps.n_fresh == ps.cap_fresh) {
		size_t cap = ps.cap_fresh ? ps.cap_fresh * 2 : 16;
		uint32_t *v = realloc(ps.fresh, cap * sizeof(*v));

		if (!v) {
			ps.full = true;
			return;
		}
		ps.fresh = v;
		ps.cap_fresh = cap;
	}
	ps.fresh[ps.n_fresh++] = id;
}

/* Rows of an identity nobody has any more stay until the next full compile: identities
 * are never reused, so no packet can match them meanwhile. */
static void ident_unref(uint32_t id)
{
	struct ident *it;

	HASH_FIND(hh, ps.ids, &id, sizeof(id), it);
	if (it && --it->refs == 0) {
		HASH_DEL(ps.ids, it);
		free(it->labels);
		free(it);
	}
}

static void local_set(const struct cc_entry *e, bool present)
{
	struct local_ep *l;
	struct endpoint *ep;

	HASH_FIND_STR(ps.locals, e->name, l);
	if (l) {
		HASH_DEL(ps.locals, l);
		free(l->labels);
		free(l);
	}
	if (!present || !(ep = decode_full(e)))
		return;
	l = calloc(1, sizeof(*l));
	if (l && (l->labels = labels_copy(ep))) {
		snprintf(l->name, sizeof(l->name), "%s", ep->name);
		l->id = ep->id;
		l->n_labels = ep->n_labels;
		HASH_ADD_STR(ps.locals, name, l);
	} else {
		free(l);
	}
	free(ep);
}

static void ipcache_move(const struct ip_addr *from, const struct ip_addr *to, uint32_t id_from,
			 uint32_t id_to)
{
	struct cidr c;

	if (from->family && (!to->family || !ip_equal(from, to))) {
		c.addr = *from;
		c.prefixlen = from->family == AF_INET ? 32 : 128;
		datapath_ipcache_delete(ps.a->dp, &c);
	}
	if (to->family && (!from->family || !ip_equal(from, to) || id_from != id_to)) {
		c.addr = *to;
		c.prefixlen = to->family == AF_INET ? 32 : 128;
		if (datapath_ipcache_upsert(ps.a->dp, &c, id_to))
			log_warn("ipcache: cannot add an entry (is the map full?)");
	}
}

static void changed(void *ctx, const struct cc_entry *old, const struct cc_entry *new)
{
	static const struct ip_addr none;
	const struct cc_entry *e = new ? new : old;
	const char *self = ps.a->cfg.node;

	pthread_mutex_lock(&ps.lock);
	if (e->kind == CC_POLICY) {
		policy_set(e->name, new ? new->value : NULL);
		ps.full = true;
		pthread_mutex_unlock(&ps.lock);
		return;
	}
	ipcache_move(old ? &old->u.ep.ip4 : &none, new ? &new->u.ep.ip4 : &none,
		     old ? old->u.ep.identity : 0, new ? new->u.ep.identity : 0);
	ipcache_move(old ? &old->u.ep.ip6 : &none, new ? &new->u.ep.ip6 : &none,
		     old ? old->u.ep.identity : 0, new ? new->u.ep.identity : 0);
	if (!old || !new || old->u.ep.identity != new->u.ep.identity) {
		if (new && new->u.ep.identity)
			ident_ref(new);
		if (old && old->u.ep.identity)
			ident_unref(old->u.ep.identity);
	}
	if ((old && !strcmp(old->u.ep.node, self)) || (new && !strcmp(new->u.ep.node, self))) {
		local_set(e, new && !strcmp(new->u.ep.node, self));
		ps.full = true;
	}
	/* The iptables baseline has no incremental form: it is rebuilt on any change. */
	if (ps.a->cfg.backend == BACKEND_IPTABLES)
		ps.full = true;
	pthread_mutex_unlock(&ps.lock);
}

/* --- compiling --------------------------------------------------------------------- */

/* --- policies, kept parsed: a change parses only the policy that changed -------------- */

static void policy_remove(struct pol_slot *slot)
{
	size_t i = slot->index, last = ps.n_pols - 1;

	policy_free_contents(&ps.pols[i]);
	if (i != last) {                 /* the last one fills the hole */
		struct pol_slot *moved;

		ps.pols[i] = ps.pols[last];
		HASH_FIND_STR(ps.slots, ps.pols[i].name, moved);
		if (moved)
			moved->index = i;
	}
	ps.n_pols--;
	HASH_DEL(ps.slots, slot);
	free(slot);
}

/* The stored policy NAME is now text (NULL: deleted). */
static void policy_set(const char *name, const char *text)
{
	struct pol_slot *slot;
	struct policy *p = NULL;
	size_t np = 0;
	char err[256];

	HASH_FIND_STR(ps.slots, name, slot);
	if (slot)
		policy_remove(slot);
	if (!text)
		return;
	if (policy_parse(text, name, &p, &np, err, sizeof(err)) || np != 1) {
		if (np != 1)
			policy_free(p, np);
		log_warn("ignoring stored policy: %s", err);
		return;
	}
	slot = calloc(1, sizeof(*slot));
	if (slot && ps.n_pols == ps.cap_pols) {
		size_t cap = ps.cap_pols ? ps.cap_pols * 2 : 64;
		struct policy *v = realloc(ps.pols, cap * sizeof(*v));

		if (v) {
			ps.pols = v;
			ps.cap_pols = cap;
		} else {
			free(slot);
			slot = NULL;
		}
	}
	if (!slot) {                     /* out of memory: the policy is not compiled in */
		log_warn("policy %s: out of memory; not compiled", name);
		policy_free(p, np);
		return;
	}
	ps.pols[ps.n_pols] = p[0];
	free(p);                         /* its contents now belong to ps.pols */
	snprintf(slot->name, sizeof(slot->name), "%s", ps.pols[ps.n_pols].name);
	slot->index = ps.n_pols++;
	HASH_ADD_STR(ps.slots, name, slot);
}

static int cmp_cidr(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;

	if (x->addr.family != y->addr.family)
		return x->addr.family - y->addr.family;
	if (x->prefixlen != y->prefixlen)
		return x->prefixlen - y->prefixlen;
	return memcmp(x->addr.bytes, y->addr.bytes, 16);
}

/* CIDRs named by policies, and their except prefixes, get node-local identities: sorted
 * and deduplicated, so the numbering is stable for a given set of policies. Caller frees. */
static int collect_cidrs(struct cidr **out)
{
	size_t count = 0, total = 0, w = 0;
	struct cidr *v;

	for (size_t i = 0; i < ps.n_pols; i++)
		for (int r = 0; r < ps.pols[i].n_rules; r++)
			for (int c = 0; c < ps.pols[i].rules[r].n_cidrs; c++)
				total += 1 + (size_t)ps.pols[i].rules[r].cidrs[c].n_except;
	v = calloc(total + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ps.n_pols; i++)
		for (int r = 0; r < ps.pols[i].n_rules; r++)
			for (int c = 0; c < ps.pols[i].rules[r].n_cidrs; c++) {
				const struct cidr_peer *cp = &ps.pols[i].rules[r].cidrs[c];

				if (cp->cidr.prefixlen)                  /* /0 is world */
					v[count++] = cp->cidr;
				for (int x = 0; x < cp->n_except; x++)
					v[count++] = cp->except[x];
			}
	qsort(v, count, sizeof(*v), cmp_cidr);
	for (size_t i = 0; i < count; i++)
		if (w == 0 || cmp_cidr(&v[w - 1], &v[i]))
			v[w++] = v[i];
	if (w > IDENTITY_MAX_CIDRS)
		w = IDENTITY_MAX_CIDRS;
	*out = v;
	return (int)w;
}

/* The node's own addresses are the "host" entity: its underlay addresses and the
 * link-local gateway its endpoints see. Returns how many of out[3] it filled. */
static int host_prefixes(struct cidr *out)
{
	int n = 0;

	if (ps.a->cfg.underlay4.family)
		out[n++] = (struct cidr){ ps.a->cfg.underlay4, 32 };
	if (ps.a->cfg.underlay6.family)
		out[n++] = (struct cidr){ ps.a->cfg.underlay6, 128 };
	if (!cidr_parse("169.254.1.1/32", &out[n]))
		n++;
	return n;
}

/* The policies' CIDR identities in the ipcache: the new set in, what is gone out. */
static int sync_cidrs(void)
{
	struct cidr *cidrs = NULL;
	int n = collect_cidrs(&cidrs);

	if (n < 0)
		return n;
	struct cidr host[3];
	int n_host = host_prefixes(host);

	for (int c = 0; c < n_host; c++)
		datapath_ipcache_upsert(ps.a->dp, &host[c], IDENTITY_HOST);
	for (int c = 0; c < n; c++)
		datapath_ipcache_upsert(ps.a->dp, &cidrs[c], IDENTITY_FIRST_CIDR + (uint32_t)c);
	for (int c = 0; c < ps.n_cidrs; c++)
		if (!bsearch(&ps.cidrs[c], cidrs, (size_t)n, sizeof(*cidrs), cmp_cidr))
			datapath_ipcache_delete(ps.a->dp, &ps.cidrs[c]);
	free(ps.cidrs);
	ps.cidrs = cidrs;
	ps.n_cidrs = n;
	return 0;
}

/* Peer identities to compile against: label sets (all, or only those in only[]) and,
 * with all, the CIDR identities and world. Caller frees. */
static struct identity_ref *peer_ids(const uint32_t *only, size_t n_only, size_t *n)
{
	struct identity_ref *ids;
	struct ident *it, *tmp;

	*n = 0;
	ids = calloc((only ? n_only : HASH_COUNT(ps.ids) + (size_t)ps.n_cidrs) + 3, sizeof(*ids));
	if (!ids)
		return NULL;
	if (only) {
		for (size_t i = 0; i < n_only; i++) {
			HASH_FIND(hh, ps.ids, &only[i], sizeof(only[i]), it);
			if (it)
				ids[(*n)++] = (struct identity_ref){ .identity = it->identity, .labels = it->labels, .n_labels = it->n_labels };
		}
		return ids;
	}
	HASH_ITER(hh, ps.ids, it, tmp)
		ids[(*n)++] = (struct identity_ref){ .identity = it->identity, .labels = it->labels, .n_labels = it->n_labels };
	for (int c = 0; c < ps.n_cidrs; c++) {
		ids[*n].identity = IDENTITY_FIRST_CIDR + (uint32_t)c;
		ids[(*n)++].cidr = ps.cidrs[c];
	}
	ids[*n].identity = IDENTITY_WORLD;
	cidr_parse("0.0.0.0/0", &ids[(*n)++].cidr);
	ids[*n].identity = IDENTITY_WORLD;
	cidr_parse("::/0", &ids[(*n)++].cidr);
	return ids;
}

static struct policy_subject *subjects(size_t *n)
{
	struct policy_subject *subj = calloc(HASH_COUNT(ps.locals) + 1, sizeof(*subj));
	struct local_ep *l, *tmp;

	*n = 0;
	if (subj)
		HASH_ITER(hh, ps.locals, l, tmp)
			subj[(*n)++] = (struct policy_subject){ l->id, l->labels, l->n_labels };
	return subj;
}

/* The baseline backend takes every peer prefix and the local endpoints in full. */
struct classic_build {
	struct classic_peers peers;
	size_t cap;
	struct endpoint *local;
	size_t n_local, cap_local;
};

static int classic_collect(const struct cc_entry *e, void *arg)
{
	struct classic_build *b = arg;

	if (b->peers.n + 2 > b->cap)
		return -ENOMEM;
	for (int f = 0; f < 2; f++) {
		const struct ip_addr *ip = f ? &e->u.ep.ip6 : &e->u.ep.ip4;

		if (!ip->family)
			continue;
		b->peers.v[b->peers.n].prefix.addr = *ip;
		b->peers.v[b->peers.n].prefix.prefixlen = f ? 128 : 32;
		b->peers.v[b->peers.n++].identity = e->u.ep.identity;
	}
	if (!strcmp(e->u.ep.node, ps.a->cfg.node) && b->n_local < b->cap_local &&
	    endpoint_decode(e->value, &b->local[b->n_local]) == 0)
		b->n_local++;
	return 0;
}

static int classic_apply(const struct dp_policy_entry *entries, size_t n,
			 const struct dp_enforce *enf, size_t n_enf)
{
	struct classic_build b = { 0 };
	int ret;

	b.cap = 2 * cc_count(ps.a->cache, CC_ENDPOINT) + (size_t)ps.n_cidrs + 3;
	b.cap_local = HASH_COUNT(ps.locals) + 1;
	b.peers.v = calloc(b.cap, sizeof(*b.peers.v));
	b.local = calloc(b.cap_local, sizeof(*b.local));
	ret = b.peers.v && b.local ? 0 : -ENOMEM;
	if (!ret)
		ret = cc_foreach(ps.a->cache, CC_ENDPOINT, classic_collect, &b);
	for (int c = 0; !ret && c < ps.n_cidrs; c++) {
		b.peers.v[b.peers.n].prefix = ps.cidrs[c];
		b.peers.v[b.peers.n++].identity = IDENTITY_FIRST_CIDR + (uint32_t)c;
	}
	/* iptables has no "world": rules for it match any source (a known difference). */
	if (!ret) {
		cidr_parse("0.0.0.0/0", &b.peers.v[b.peers.n].prefix);
		b.peers.v[b.peers.n++].identity = IDENTITY_WORLD;
		cidr_parse("::/0", &b.peers.v[b.peers.n].prefix);
		b.peers.v[b.peers.n++].identity = IDENTITY_WORLD;
		ret = classic_policy_apply(ps.a, entries, n, enf, n_enf, b.local, b.n_local, &b.peers);
	}
	free(b.peers.v);
	free(b.local);
	return ret;
}

/* Compile this node's subjects against ids; replace the whole policy state, or (partial)
 * only add the rows the new identities bring. */
static int compile(const struct identity_ref *ids, size_t n_ids, bool partial)
{
	struct policy_compiled comp = { 0 };
	struct dp_policy_entry *entries = NULL;
	struct dp_enforce *enf = NULL;
	size_t n_subj;
	struct policy_subject *subj = subjects(&n_subj);
	int ret = subj ? policy_compile(ps.pols, ps.n_pols, subj, n_subj, ids, n_ids, &comp) : -ENOMEM;

	if (!ret) {
		entries = calloc(comp.n + 1, sizeof(*entries));
		enf = calloc(comp.n_enforce + 1, sizeof(*enf));
		if (!entries || !enf)
			ret = -ENOMEM;
	}
	for (size_t i = 0; !ret && i < comp.n; i++) {
		const struct policy_entry *e = &comp.entries[i];

		entries[i] = (struct dp_policy_entry){
			.ep_id = e->ep_id, .identity = e->identity, .dir = e->dir, .proto = e->proto,
			.port = e->port, .port_bits = e->port_bits, .verdict = e->verdict,
			.rule = e->rule_idx, .policy_id = policy_id_of(ps.pols[e->policy_idx].name),
		};
	}
	for (size_t i = 0; !ret && i < comp.n_enforce; i++)
		enf[i] = (struct dp_enforce){ comp.enforce[i].ep_id, comp.enforce[i].ingress,
					      comp.enforce[i].egress };
	if (!ret && ps.a->cfg.backend == BACKEND_IPTABLES)
		ret = classic_apply(entries, comp.n, enf, comp.n_enforce);
	else if (!ret && partial)
		ret = datapath_policy_add(ps.a->dp, entries, comp.n);
	else if (!ret)
		ret = datapath_policy_replace(ps.a->dp, entries, comp.n, enf, comp.n_enforce);
	log_debug("policy %s compile: %zu policies, %zu subjects, %zu identities, %zu entries",
		  partial ? "partial" : "full", ps.n_pols, n_subj, n_ids, comp.n);
	policy_compiled_free(&comp);
	free(entries);
	free(enf);
	free(subj);
	return ret;
}

/* ipcache entries a restarted agent finds that cluster state no longer has: once, after
 * the first full load (O(cluster)). Called with the cache locked. */
static int keep_endpoint(const struct cc_entry *e, void *arg)
{
	struct prefix_set *keep = arg;

	return prefix_set_add_host(keep, &e->u.ep.ip4) ?: prefix_set_add_host(keep, &e->u.ep.ip6);
}

static int note_ipc(const struct cidr *prefix, uint32_t identity, void *arg)
{
	return prefix_sweep_note(arg, prefix);
}

static int ipcache_sweep(void)
{
	struct prefix_set *keep = prefix_set_new();
	struct prefix_sweep s = { .keep = keep };
	int ret = keep ? cc_foreach(ps.a->cache, CC_ENDPOINT, keep_endpoint, keep) : -ENOMEM;

	struct cidr host[3];
	int n_host = host_prefixes(host);

	for (int c = 0; !ret && c < ps.n_cidrs; c++)
		ret = prefix_set_add(keep, &ps.cidrs[c]);
	for (int c = 0; !ret && c < n_host; c++)
		ret = prefix_set_add(keep, &host[c]);
	if (!ret)
		ret = datapath_ipcache_foreach(ps.a->dp, note_ipc, &s);
	for (size_t i = 0; !ret && i < s.n; i++)
		datapath_ipcache_delete(ps.a->dp, &s.stale[i]);
	prefix_set_free(keep);
	prefix_sweep_free(&s);
	return ret;
}

static void batch_end(void *ctx)
{
	int ret = 0;

	pthread_mutex_lock(&ps.lock);
	if (ps.full) {
		size_t n_ids;
		struct identity_ref *ids;

		ret = sync_cidrs();
		ids = ret ? NULL : peer_ids(NULL, 0, &n_ids);
		ret = ret ? ret : ids ? compile(ids, n_ids, false) : -ENOMEM;
		free(ids);
		ps.full_compiles++;
	} else if (!ret && ps.n_fresh) {
		size_t n_ids;
		struct identity_ref *ids = peer_ids(ps.fresh, ps.n_fresh, &n_ids);

		ret = ids ? compile(ids, n_ids, true) : -ENOMEM;
		free(ids);
		ps.partial_compiles++;
	}
	if (!ret && !ps.swept) {
		ret = ipcache_sweep();
		ps.swept = !ret;
	}
	if (ret)
		log_warn("policy compile failed: %s", strerror(-ret));
	ps.last_error = ret;
	ps.full = false;
	ps.n_fresh = 0;
	pthread_mutex_unlock(&ps.lock);
}

int policy_subscribe(struct agent *a)
{
	struct cc_listener l = {
		.name = "policy", .kinds = CC_BIT(CC_POLICY) | CC_BIT(CC_ENDPOINT),
		.changed = changed, .batch_end = batch_end, .ctx = a,
	};

	ps.a = a;
	return cluster_subscribe(a, &l);
}

int policy_last_error(void)
{
	int ret;

	pthread_mutex_lock(&ps.lock);
	ret = ps.last_error;
	pthread_mutex_unlock(&ps.lock);
	return ret;
}

void policy_sync_metrics(struct agent *a, FILE *f)
{
	pthread_mutex_lock(&ps.lock);
	fprintf(f, "# HELP petrel_policy_compiles_total Policy compilations, full or for new identities only.\n");
	fprintf(f, "# TYPE petrel_policy_compiles_total counter\n");
	fprintf(f, "petrel_policy_compiles_total{node=\"%s\",kind=\"full\"} %llu\n", a->cfg.node,
		(unsigned long long)ps.full_compiles);
	fprintf(f, "petrel_policy_compiles_total{node=\"%s\",kind=\"partial\"} %llu\n", a->cfg.node,
		(unsigned long long)ps.partial_compiles);
	fprintf(f, "# HELP petrel_identities Label identities this node knows.\n");
	fprintf(f, "# TYPE petrel_identities gauge\n");
	fprintf(f, "petrel_identities{node=\"%s\"} %u\n", a->cfg.node, HASH_COUNT(ps.ids));
	pthread_mutex_unlock(&ps.lock);
}

/* --- names for the flow log -------------------------------------------------------- */

bool policy_name_of(uint32_t id, char *buf, size_t len)
{
	bool found = false;

	pthread_mutex_lock(&ps.lock);
	for (size_t i = 0; i < ps.n_pols && !found; i++)
		if (policy_id_of(ps.pols[i].name) == id) {
			snprintf(buf, len, "%s", ps.pols[i].name);
			found = true;
		}
	pthread_mutex_unlock(&ps.lock);
	return found;
}

bool policy_endpoint_name(uint32_t ep_id, char *buf, size_t len)
{
	struct local_ep *l, *tmp;
	bool found = false;

	pthread_mutex_lock(&ps.lock);
	HASH_ITER(hh, ps.locals, l, tmp)
		if (l->id == ep_id) {
			snprintf(buf, len, "%s", l->name);
			found = true;
			break;
		}
	pthread_mutex_unlock(&ps.lock);
	return found;
}

bool policy_identity_labels(uint32_t identity, char *buf, size_t len)
{
	struct ident *it;
	bool found = false;

	pthread_mutex_lock(&ps.lock);
	HASH_FIND(hh, ps.ids, &identity, sizeof(identity), it);
	if (it) {
		snprintf(buf, len, "%s", it->canon);
		found = true;
	} else if (identity >= IDENTITY_FIRST_CIDR &&
		   identity - IDENTITY_FIRST_CIDR < (uint32_t)ps.n_cidrs) {
		char c[CIDR_STRLEN];

		snprintf(buf, len, "cidr:%s", cidr_str(&ps.cidrs[identity - IDENTITY_FIRST_CIDR], c));
		found = true;
	}
	pthread_mutex_unlock(&ps.lock);
	return found;
}

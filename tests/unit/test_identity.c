/* Unit tests for canonical label sets. */
#include <errno.h>
#include "harness.h"
#include "identity.h"

int main(void)
{
	struct ep_label a[] = { { "tier", "front" }, { "app", "web" } };
	struct ep_label b[] = { { "app", "web" }, { "tier", "front" } };
	struct ep_label back[EP_MAX_LABELS];
	char ca[256], cb[256], tiny[8];
	int n;

	CHECK(identity_canonical(a, 2, ca, sizeof(ca)) == 0);
	CHECK(identity_canonical(b, 2, cb, sizeof(cb)) == 0);
	CHECK_STR(ca, "app=web,tier=front");
	CHECK_STR(ca, cb);                       /* order does not matter */
	CHECK(identity_canonical(a, 0, ca, sizeof(ca)) == 0 && ca[0] == 0);
	CHECK(identity_canonical(a, 2, tiny, sizeof(tiny)) == -ENOSPC);
	CHECK(identity_parse("app=web,tier=front", back, EP_MAX_LABELS, &n) == 0 && n == 2);
	CHECK_STR(back[1].key, "tier");
	CHECK(identity_parse("", back, EP_MAX_LABELS, &n) == 0 && n == 0);
	CHECK(identity_parse("novalue", back, EP_MAX_LABELS, &n) == -EINVAL);
	CHECK(identity_parse("a b=c", back, EP_MAX_LABELS, &n) == -EINVAL);
	CHECK_STR(identity_reserved_name(IDENTITY_WORLD), "world");
	CHECK(identity_reserved_name(IDENTITY_FIRST) == NULL);
	return harness_done("test_identity");
}

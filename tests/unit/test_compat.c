/* Migration compatibility rules between source and destination versions. */
#include <string.h>
#include "harness.h"
#include "compat.h"

static void test_parse(void)
{
	int maj, min;

	CHECK(version_parse("4.2.1", &maj, &min) && maj == 4 && min == 2);
	CHECK(version_parse("6.18.0-1-cloud-amd64", &maj, &min) && maj == 6 && min == 18);
	CHECK(version_parse("3.17", &maj, &min) && maj == 3 && min == 17);
	CHECK(!version_parse("", &maj, &min));
	CHECK(!version_parse("four", &maj, &min));
	CHECK(!version_parse(NULL, &maj, &min));
}

static void test_criu(void)
{
	char why[256];

	CHECK(criu_usable("4.2.1", why, sizeof(why)));
	CHECK(criu_usable("5.0", why, sizeof(why)));
	CHECK(!criu_usable("4.1.1", why, sizeof(why)) && strstr(why, "older than 4.2"));
	CHECK(!criu_usable("3.17.1", why, sizeof(why)));
	CHECK(!criu_usable("", why, sizeof(why)) && strstr(why, "no CRIU"));
	CHECK(!criu_usable("x.y", why, sizeof(why)) && strstr(why, "unrecognised"));
}

static void test_pairs(void)
{
	char why[256];

	CHECK(migration_compatible("4.2.1", "6.18.0", "4.2.1", "6.18.0", why, sizeof(why)));
	CHECK(migration_compatible("4.2.1", "6.1.0", "4.3", "6.18.0", why, sizeof(why)));
	CHECK(!migration_compatible("4.3", "6.18.0", "4.2.1", "6.18.0", why, sizeof(why)) &&
	      strstr(why, "cannot read"));
	CHECK(!migration_compatible("4.2.1", "6.18.0", "4.2.1", "6.1.0", why, sizeof(why)) &&
	      strstr(why, "kernel 6.1.0"));
	CHECK(!migration_compatible("4.2.1", "6.18.0", "4.2.1", "5.19.17", why, sizeof(why)));
	CHECK(!migration_compatible("4.2.1", "6.18.0", "", "6.18.0", why, sizeof(why)));
	CHECK(!migration_compatible("4.2.1", "6.18.0", "4.2.1", "", why, sizeof(why)));
}

int main(void)
{
	test_parse();
	test_criu();
	test_pairs();
	return harness_done("compat");
}

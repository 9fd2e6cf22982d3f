/* Holds N MiB of touched, non-zero memory and keeps rewriting a little of it, so a
 * checkpoint has that much to copy. Prints a line per second with a checksum, which a
 * restored copy continues. Usage: memhog MIB */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib = argc == 2 ? strtoul(argv[1], NULL, 10) : 0, n = mib << 20;
	unsigned char *p = n ? malloc(n) : NULL;
	unsigned long sum = 0;

	if (!p) {
		fprintf(stderr, "usage: memhog MIB\n");
		return 2;
	}
	/* Varied bytes: pages must not be all-zero (CRIU skips those) nor trivially alike. */
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 2654435761u >> 13);
	for (unsigned long tick = 0;; tick++) {
		for (size_t i = 0; i < n; i += 4096 * 64)
			sum += p[i]++;
		printf("memhog %zu MiB tick %lu sum %lu\n", mib, tick, sum);
		fflush(stdout);
		sleep(1);
	}
}

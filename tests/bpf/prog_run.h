/* Shared by the BPF_PROG_RUN fixtures: run a TC program once on a frame. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The program's verdict, with the output frame in out (*out_len octets); -100 when the
 * kernel refuses to run it. The context says ifindex 1. */
static inline int prog_run(struct bpf_program *prog, const void *in, uint32_t in_len, void *out,
			   uint32_t out_size, uint32_t *out_len)
{
	struct __sk_buff ctx = { .ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = in_len,
		    .data_out = out, .data_size_out = out_size,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int ret = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (ret) {
		fprintf(stderr, "test_run: %s\n", strerror(-ret));
		return -100;
	}
	*out_len = opts.data_size_out;
	return (int)opts.retval;
}

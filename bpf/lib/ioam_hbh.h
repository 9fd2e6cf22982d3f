/* An IPv6 packet's Hop-by-Hop header for IOAM: where it sits, its leading padding, and the
 * rebuild of a header that carries other options too when the IOAM goes (decap). */
#pragma once
#include "common.h"
#include "ioam_prog_maps.h"

#define L3_OFF        14                   /* Ethernet */
#define HBH_OFF       (L3_OFF + 40)        /* right after the fixed IPv6 header */
#define MAX_TLVS      64                   /* options walked in one Hop-by-Hop header */
#define PKT_OFF_MASK  0xfff                /* bounds offsets into the linear data: past the
					    * largest Hop-by-Hop header (54 + 2048) */


/* The fixed IPv6 header, read directly (no helper call on the common path); NULL for
 * anything else. */
static __always_inline int ipv6_header(struct __sk_buff *skb, struct ipv6hdr *out)
{
	void *data = pkt_data(skb), *end = pkt_end(skb);
	struct ipv6hdr *ip6 = data + L3_OFF;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return -1;
	if ((void *)(ip6 + 1) > end) {
		if (bpf_skb_load_bytes(skb, L3_OFF, out, sizeof(*out)))
			return -1;
	} else {
		__builtin_memcpy(out, ip6, sizeof(*out));
	}
	return out->version == 6 ? 0 : -1;
}

/* Bytes of padding at the start of an existing Hop-by-Hop header's options. */
static __always_inline __u32 leading_pad(struct __sk_buff *skb, __u32 off, __u32 end)
{
	__u8 b[2];
	__u32 pad = 0;

	for (int i = 0; i < 8 && off < end; i++) {
		if (bpf_skb_load_bytes(skb, off, b, 1))
			break;
		if (b[0] == 0) {          /* Pad1 */
			pad++;
			off++;
			continue;
		}
		if (b[0] != 1 || bpf_skb_load_bytes(skb, off, b, 2))
			break;
		pad += b[1] + 2;          /* PadN */
		off += b[1] + 2;
	}
	return pad;
}

/* ------------------------------------------------------- decap keeping other options */

#define KEEP_MAX 240               /* octets of other options decap can keep */
#define KEEP_TLVS 32               /* options (any kind) in a header decap rebuilds */

/* Decap of a header that carries other options too: rebuild it with those alone, each at
 * its old alignment (offset modulo 8), at the end of the old header, then cut the front.
 * The walk runs under bpf_loop, so its callback is verified once. */
struct keep_ctx {
	struct __sk_buff *skb;
	__u8 *buf;                     /* a per-CPU scratch buffer: the stack is spent */
	__u32 off, end, pos;
	int fail;
};

static long keep_step(__u32 i, struct keep_ctx *c)
{
	__u8 t[2];
	__u32 len, pad, n;

	if (c->off >= c->end)
		return 1;
	if (bpf_skb_load_bytes(c->skb, c->off, t, 1))
		goto fail;
	if (t[0] == 0) {
		c->off++;
		return 0;
	}
	if (bpf_skb_load_bytes(c->skb, c->off, t, 2))
		goto fail;
	len = 2 + t[1];
	if (t[0] != 1 && t[0] != IOAM_HBH_OPT) {
		pad = ((c->off - HBH_OFF) - c->pos) & 7;
		if (c->pos + pad + len > KEEP_MAX)
			goto fail;
		if (pad > 1) {                    /* PadN; Pad1 is the zero already there */
			c->buf[c->pos & 255] = 1;
			c->buf[(c->pos + 1) & 255] = pad - 2;
		}
		c->pos += pad;
		n = len & 255;
		if (n < 2 || bpf_skb_load_bytes(c->skb, c->off, c->buf + (c->pos & 255), n))
			goto fail;
		c->pos += len;
	}
	c->off += len;
	return 0;
fail:
	c->fail = 1;
	return 1;
}

/* Returns 0, -1 (header untouched) when the other options take more than KEEP_MAX or
 * KEEP_TLVS, -2 when the packet could not be changed. */
static __noinline int keep_others(struct __sk_buff *skb, __u32 hbh_len, __u32 plen)
{
	struct keep_ctx c = { .skb = skb, .off = HBH_OFF + 2, .end = HBH_OFF + hbh_len, .pos = 2 };
	struct keep_buf *kb;
	__u32 pos, delta, pad, zero = 0;
	__u16 new_plen;

	kb = bpf_map_lookup_elem(&ioam_scratch, &zero);
	if (!kb)
		return -1;
	__builtin_memset(kb->b, 0, sizeof(kb->b));
	c.buf = kb->b;
	if (bpf_skb_load_bytes(skb, HBH_OFF, kb->b, 1))
		return -1;
	bpf_loop(KEEP_TLVS, keep_step, &c, 0);
	if (c.fail || c.off < c.end)
		return -1;
	pos = c.pos;
	pad = (8 - (pos & 7)) & 7;
	if (pad > 1) {
		kb->b[pos & 255] = 1;
		kb->b[(pos + 1) & 255] = pad - 2;
	}
	pos += pad;
	if (pos > KEEP_MAX + 8 || pos >= hbh_len)
		return -1;
	kb->b[1] = pos / 8 - 1;
	delta = hbh_len - pos;
	new_plen = bpf_htons((__u16)(plen - delta));
	asm volatile("" : "+r"(pos));
	pos &= 255;
	if (pos < 8)
		return -1;
	if (bpf_skb_store_bytes(skb, HBH_OFF + delta, kb->b, pos, 0) ||
	    bpf_skb_store_bytes(skb, L3_OFF + offsetof(struct ipv6hdr, payload_len), &new_plen, 2, 0) ||
	    bpf_skb_adjust_room(skb, -(__s32)delta, BPF_ADJ_ROOM_NET, 0))
		return -2;
	return 0;
}

/* Includes and constants every datapath header needs. */
#pragma once
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET    2
#define AF_INET6   10
#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_ALEN   6

#define TC_ACT_OK       0
#define TC_ACT_SHOT     2
#define TC_ACT_REDIRECT 7

/* Small file-system helpers shared by agent, CLI and tests. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int mkdir_p(const char *path, unsigned int mode);          /* 0 if it exists */
int read_file(const char *path, char **out);               /* NUL-terminated; caller frees */
int write_file_atomic(const char *path, const char *data); /* tmp file + rename */
/* Remove dir and everything below it, never crossing into another mount (a rootfs still
 * mounted inside stays whole, and the removal fails); 0 if dir does not exist. */
int rm_tree(const char *dir);
/* path is a mount point: on another device than its parent directory. */
bool is_mountpoint(const char *path);
/* Make dir/relpath (each missing component with mode, the last one chmod-ed to it) without
 * following any symbolic link and without leaving dir: for paths inside a container's
 * file system, which the container may have filled with links to host files. -ELOOP when
 * a component is a link, -EXDEV when it would leave dir. */
int mkdir_beneath(const char *dir, const char *relpath, unsigned int mode);
/* The program name in the running executable's directory, into buf: 0 when it is there
 * and executable, -errno otherwise. */
int exe_sibling(const char *name, char *buf, size_t len);
/* FNV-1a over a string: stable names (lxc<hash>) and MACs derived from endpoint names. */
uint32_t fnv1a32(const char *s);
uint64_t now_ms(void);                                     /* CLOCK_MONOTONIC */
/* CLOCK_REALTIME ms from now, for pthread_cond_timedwait. */
struct timespec;
void deadline_after_ms(struct timespec *ts, int ms);

/* A growing, always NUL-terminated byte buffer (HTTP bodies). */
struct growbuf {
	char *data;
	size_t len;
};
int growbuf_append(struct growbuf *b, const void *p, size_t n);   /* -ENOMEM */
/* Remove the first n bytes, keeping the rest (and the terminator). */
void growbuf_consume(struct growbuf *b, size_t n);

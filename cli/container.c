/* `petrel run|ps|logs|stop|rm|exec`: containers run by the node agents with runc. The CLI
 * sends requests to an agent; `exec` runs runc itself, with the terminal's stdio, on the
 * machine of the node hosting the container. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "cli.h"
#include "args.h"
#include "config.h"
#include "container.h"
#include "print.h"
#include "util.h"

#define RUNC "/usr/sbin/runc"

static int name_arg(struct cli *c, const char *cmd, int argc, char **argv, const char **name)
{
	if (argc < 1 || argv[0][0] == '-')
		return cli_usage(c, cmd, "missing container NAME");
	if (!name_valid(argv[0]))
		return cli_usage(c, cmd, "'%s' is not a valid container name (a-z, 0-9 and '-', at most 63)", argv[0]);
	*name = argv[0];
	return 0;
}

struct name_opts {
	bool follow, force;
	long timeout;
};

static const struct args_opt logs_options[] = {
	ARGS_OPT_FLAG("--follow", "-f", struct name_opts, follow),
	ARGS_OPT_END
};
static const struct args_opt rm_options[] = {
	ARGS_OPT_FLAG("--force", "-f", struct name_opts, force),
	ARGS_OPT_END
};
static const struct args_opt stop_options[] = {
	ARGS_OPT_LONG("--timeout", NULL, struct name_opts, timeout, 0, 3600, "a number of seconds in 0-3600"),
	ARGS_OPT_END
};

/* NAME and the command's options; then, in a lab, talk to the agent of the node hosting
 * the container. */
static int name_opts_args(struct cli *c, const char *cmd, const struct args_opt *opts, int argc,
			  char **argv, const char **name, struct name_opts *o)
{
	const char *pos[1] = { NULL };
	json_t *ct;
	int ret;

	if ((ret = cli_args(c, cmd, opts, o, argc, argv, pos, 1, NULL)))
		return ret;
	if (!pos[0])
		return cli_usage(c, cmd, "missing container NAME");
	if ((ret = name_arg(c, cmd, 1, (char **)pos, name)))
		return ret;
	if (cli_locate_container(c, *name, &ct))
		return 1;
	json_decref(ct);
	return 0;
}

/* "123", "64k", "512M", "1G" (powers of 1024). */
static int parse_bytes(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: return -EINVAL;
	}
	if (*end && strcmp(end, "iB") && strcmp(end, "B"))
		return -EINVAL;
	*out = v;
	return 0;
}

static void fmt_cmd(json_t *ct, const char *key, char *buf, size_t len)
{
	size_t i, off = 0;
	json_t *v;

	*buf = 0;
	json_array_foreach(print_lookup(ct, key), i, v)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s", off ? " " : "",
					json_string_value(v));
	/* One line in a table: a script's newlines and tabs become spaces. */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* "exited(3)" for a container that ended with a code; its state otherwise. */
static void fmt_state(json_t *ct, const char *key, char *buf, size_t len)
{
	long long code = json_integer_value(json_object_get(ct, "exit_code"));

	if (code >= 0 && strcmp(json_str(ct, "state"), "running"))
		snprintf(buf, len, "%s(%lld)", json_str(ct, "state"), code);
	else
		snprintf(buf, len, "%s", json_str(ct, "state"));
}

static const char container_header[] = "NAME             NODE     STATE        PID     IPV4            IPV6                   PUBLISH          COMMAND\n";
static const struct print_field container_row[] = {
	PF("name", "%-16s "), PF("node", "%-8s "), PF_FN("state", "%-12s ", fmt_state),
	PF("pid", "%-7s "), PF("ipv4", "%-15s "), PF("ipv6", "%-22s "),
	PF_FN("publish", "%-16s ", cli_fmt_publish), PF_FN("cmd", "%.60s\n", fmt_cmd),
	PF_END
};
static const struct print_field container_lines[] = {
	PF("name", "container %s\n"), PF("node", "  node      %s\n"), PF("state", "  state     %s\n"),
	PF("pid", "  pid       %s\n"), PF("ipv4", "  ipv4      %s\n"), PF("ipv6", "  ipv6      %s\n"),
	PF_FN("publish", "  publish   %s\n", cli_fmt_publish),
	PF_FN("labels", "  labels    %s\n", print_fmt_pairs), PF("rootfs", "  rootfs    %s\n"),
	PF("image", "  image     %s\n"), PF("image_id", "  image id  %s\n"),
	PF_FN("cmd", "  cmd       %s\n", fmt_cmd),
	PF_END
};

static void emit(json_t *ct)
{
	print_record(PRINT_ANY, ct, container_lines);
	if (json_integer_value(json_object_get(ct, "exit_code")) >= 0)
		print_record(PRINT_FP, ct, (const struct print_field[]){
			PF("exit_code", "  exit      %s\n"), PF_END });
}

struct run_opts {
	json_t *labels, *publish, *env;
	const char *rootfs, *image;
	long long memory;
};

static int opt_env(const char *v, void *dst, char *err, size_t len)
{
	if (!container_env_valid(v)) {
		snprintf(err, len, "--env '%s' is not KEY=VALUE (KEY of letters, digits, '_')", v);
		return -EINVAL;
	}
	json_array_append_new(*(json_t **)dst, json_string(v));
	return 0;
}

static int opt_memory(const char *v, void *dst, char *err, size_t len)
{
	if (parse_bytes(v, dst)) {
		snprintf(err, len, "--memory '%s' is not a size in bytes (e.g. 67108864 or 64M)", v);
		return -EINVAL;
	}
	return 0;
}

static const struct args_opt run_options[] = {
	ARGS_OPT_STRING("--rootfs", NULL, struct run_opts, rootfs, NULL, NULL),
	ARGS_OPT_STRING("--image", NULL, struct run_opts, image, container_image_ref_valid,
			"an image: oci:DIR[:TAG], or a name in containers-storage"),
	ARGS_OPT_EACH("--label", NULL, struct run_opts, labels, cli_opt_label),
	ARGS_OPT_EACH("--publish", NULL, struct run_opts, publish, cli_opt_publish),
	ARGS_OPT_EACH("--env", NULL, struct run_opts, env, opt_env),
	ARGS_OPT_EACH("--memory", NULL, struct run_opts, memory, opt_memory),
	ARGS_OPT_END
};

int cmd_run(struct cli *c, int argc, char **argv)
{
	struct run_opts o = { .labels = json_object(), .publish = json_array(), .env = json_array() };
	json_t *cmd = json_array(), *body = NULL, *resp;
	const char *name = NULL, *rootfs;
	char abs[PATH_MAX];
	int i, ret;

	if ((ret = name_arg(c, "run", argc, argv, &name)) ||
	    (ret = cli_args(c, "run", run_options, &o, argc - 1, argv + 1, NULL, 0, &i)))
		goto out;
	i++;                    /* argv + 1 */
	rootfs = o.rootfs;
	if (!rootfs == !o.image) {
		ret = cli_usage(c, "run", "give --rootfs DIR or --image REF (one of them)");
		goto out;
	}
	if (i >= argc && !o.image) {
		ret = cli_usage(c, "run", "missing the command: petrel run NAME --rootfs DIR -- CMD [ARG]...");
		goto out;
	}
	for (; i < argc; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	body = json_pack("{s:s, s:O, s:O, s:O, s:O, s:I}", "name", name, "cmd", cmd, "env", o.env,
			 "labels", o.labels, "publish", o.publish, "memory", (json_int_t)o.memory);
	if (o.image) {
		/* An image layout's directory, like a rootfs, goes to the agent absolute. */
		if (!strncmp(o.image, "oci:", 4) && o.image[4] != '/') {
			ret = cli_usage(c, "run", "oci:DIR needs an absolute DIR");
			goto out;
		}
		json_object_set_new(body, "image", json_string(o.image));
	} else if (!realpath(rootfs, abs)) {
		ret = cli_error(c, "rootfs %s: %s (build one with scripts/mkrootfs.sh DIR)", rootfs, strerror(errno));
		goto out;
	} else {
		json_object_set_new(body, "rootfs", json_string(abs));
	}
	ret = cli_api_timeout(c, "POST", "/v1/containers", body, 120000, &resp);
	if (ret)
		goto out;
	emit(resp);
	json_decref(resp);
out:
	json_decref(body);
	json_decref(o.labels);
	json_decref(o.publish);
	json_decref(o.env);
	json_decref(cmd);
	return ret;
}

int cmd_ps(struct cli *c, int argc, char **argv)
{
	json_t *resp;
	int ret;

	if ((ret = cli_get(c, "ps", argc, argv, "/v1/containers", &resp)))
		return ret;
	print_table(PRINT_ANY, json_object_get(resp, "containers"), container_header, container_row);
	json_decref(resp);
	return 0;
}

/* GET the container; when another lab node hosts it, talk to that node's agent from now on,
 * so NAME-commands work whichever --node was given. */
int cli_locate_container(struct cli *c, const char *name, json_t **ct)
{
	char path[128], dir[512];
	struct stat st;
	const char *node;

	snprintf(path, sizeof(path), "/v1/containers/%s", name);
	if (cli_api(c, "GET", path, NULL, ct))
		return 1;
	if (json_object_get(*ct, "runc_root") || c->socket_opt)
		return 0;
	node = json_str(*ct, "node");
	snprintf(dir, sizeof(dir), LAB_DIR "/%s/%s", c->lab, node);
	if (!*node || stat(dir, &st))
		return 0;           /* not a lab: the agent's answer will say where it runs */
	c->node = strdup(node);
	c->socket[0] = 0;
	json_decref(*ct);
	return cli_api(c, "GET", path, NULL, ct);
}

/* One chunk of the log from *offset: appended to acc (JSON listing), printed as a JSON line
 * (JSON follow) or written as is. Returns 1 when more is ready at once, 0, or -1. */
static int logs_chunk(struct cli *c, const char *name, long long *offset, bool *running,
		      struct growbuf *acc)
{
	char path[160];
	json_t *body, *resp;
	const char *data;
	int ret;

	snprintf(path, sizeof(path), "/v1/containers/%s/logs", name);
	body = json_pack("{s:I}", "offset", (json_int_t)*offset);
	ret = cli_api(c, "POST", path, body, &resp);
	json_decref(body);
	if (ret)
		return -1;
	data = json_str(resp, "data");
	if (acc) {
		growbuf_append(acc, data, strlen(data));
	} else if (*data) {
		json_t *line = json_pack("{s:s, s:s}", "name", name, "data", data);

		print_stream_record(line, (const struct print_field[]){ PF("data", "%s"), PF_END });
		json_decref(line);
	}
	*running = !strcmp(json_str(resp, "state"), "running");
	long long next = json_integer_value(json_object_get(resp, "offset"));
	long long size = json_integer_value(json_object_get(resp, "size"));
	ret = next < size;      /* more to read right away */
	*offset = next;
	json_decref(resp);
	return ret;
}

int cmd_logs(struct cli *c, int argc, char **argv)
{
	const char *name = NULL;
	bool follow = false, running = false;
	struct growbuf all = { 0 };
	long long offset = 0;
	int ret;

	struct name_opts o = { 0 };

	if ((ret = name_opts_args(c, "logs", logs_options, argc, argv, &name, &o)))
		return ret;
	follow = o.follow;
	if (!follow && is_json_context()) {       /* one object with the whole log */
		while ((ret = logs_chunk(c, name, &offset, &running, &all)) > 0)
			;
		if (ret == 0) {
			json_t *j = json_pack("{s:s, s:b, s:s}", "name", name, "running", running,
					      "log", all.data ? all.data : "");
			print_record(PRINT_JSON, j, NULL);
			json_decref(j);
		}
		free(all.data);
		return ret < 0;
	}
	for (;;) {
		ret = logs_chunk(c, name, &offset, &running, NULL);
		if (ret < 0)
			return 1;
		if (ret > 0)
			continue;
		if (!follow || !running) {
			/* One last read: output written just before the end. */
			if (follow && logs_chunk(c, name, &offset, &running, NULL) < 0)
				return 1;
			return 0;
		}
		usleep(200000);
	}
}

int cmd_stop(struct cli *c, int argc, char **argv)
{
	const char *name = NULL;
	char path[160];
	struct name_opts o = { .timeout = 10 };
	json_t *body, *resp;
	long timeout;
	int ret;

	if ((ret = name_opts_args(c, "stop", stop_options, argc, argv, &name, &o)))
		return ret;
	timeout = o.timeout;
	snprintf(path, sizeof(path), "/v1/containers/%s/stop", name);
	body = json_pack("{s:i}", "timeout", (int)timeout);
	ret = cli_api_timeout(c, "POST", path, body, (timeout + 30) * 1000, &resp);
	json_decref(body);
	if (ret)
		return ret;
	print_record(PRINT_ANY, resp, (const struct print_field[]){
		PF("name", "%s "), PF("state", "%s "), PF("exit_code", "(exit code %s)\n"), PF_END });
	json_decref(resp);
	return 0;
}

int cmd_rm(struct cli *c, int argc, char **argv)
{
	const char *name = NULL;
	bool force = false;
	char path[160];
	json_t *body, *resp;
	int ret;

	struct name_opts o = { 0 };

	if ((ret = name_opts_args(c, "rm", rm_options, argc, argv, &name, &o)))
		return ret;
	force = o.force;
	snprintf(path, sizeof(path), "/v1/containers/%s", name);
	body = json_pack("{s:b}", "force", force);
	ret = cli_api_timeout(c, "DELETE", path, body, 60000, &resp);
	json_decref(body);
	if (ret)
		return ret;
	print_record(PRINT_ANY, resp, (const struct print_field[]){
		PF("deleted", "removed container %s\n"), PF_END });
	json_decref(resp);
	return 0;
}

int cmd_exec(struct cli *c, int argc, char **argv)
{
	const char *name = NULL;
	char root[512], **nargv;
	json_t *ct;
	int ret;

	if ((ret = name_arg(c, "exec", argc, argv, &name)))
		return ret;
	if (argc < 3 || strcmp(argv[1], "--"))
		return cli_usage(c, "exec", "expected NAME -- CMD [ARG]...");
	if ((ret = cli_require_root(c, "exec")))
		return ret;
	if (cli_locate_container(c, name, &ct))
		return 1;
	if (!json_object_get(ct, "runc_root")) {
		ret = cli_error(c, "container '%s' runs on node %s; this agent cannot exec into it "
				"(hint: petrel --node %s exec ...)", name, json_str(ct, "node"), json_str(ct, "node"));
		json_decref(ct);
		return ret;
	}
	if (strcmp(json_str(ct, "state"), "running")) {
		ret = cli_error(c, "container '%s' is %s, not running", name, json_str(ct, "state"));
		json_decref(ct);
		return ret;
	}
	snprintf(root, sizeof(root), "%s", json_str(ct, "runc_root"));
	json_decref(ct);
	nargv = calloc((size_t)argc + 7, sizeof(char *));
	if (!nargv)
		return cli_error(c, "out of memory");
	nargv[0] = (char *)RUNC;
	nargv[1] = (char *)"--root";
	nargv[2] = root;
	nargv[3] = (char *)"exec";
	int n = 4;
	if (isatty(0) && isatty(1))
		nargv[n++] = (char *)"-t";     /* interactive: runc gives the process a pty */
	nargv[n++] = (char *)name;
	memcpy(nargv + n, argv + 2, (size_t)(argc - 2) * sizeof(char *));
	fflush(NULL);
	execv(RUNC, nargv);
	ret = cli_error(c, "cannot run %s: %s", RUNC, strerror(errno));
	free(nargv);
	return ret;
}

/* Run runc --root ROOT delete --force ID quietly; for `lab down`. */
static void runc_delete(const char *root, const char *id)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(RUNC, RUNC, "--root", root, "delete", "--force", id, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
}

/* Before `lab down` removes the lab's directory: delete every container runc knows under
 * each node's state, then unmount whatever is still mounted below the lab directory
 * (overlay rootfs of the bundles), deepest first. */
void lab_containers_down(const char *lab)
{
	char dir[512], root[600], line[4096], **mnts = NULL;
	size_t n = 0, len;
	DIR *d, *rd;
	struct dirent *de, *ce;
	FILE *f;

	snprintf(dir, sizeof(dir), LAB_DIR "/%s", lab);
	len = strlen(dir);
	if ((d = opendir(dir))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(root, sizeof(root), "%s/%s/state/runc", dir, de->d_name);
			if (!(rd = opendir(root)))
				continue;
			while ((ce = readdir(rd)))
				if (ce->d_name[0] != '.')
					runc_delete(root, ce->d_name);
			closedir(rd);
		}
		closedir(d);
	}
	if (!(f = fopen("/proc/self/mountinfo", "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char mp[4096];
		char **nm;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || strncmp(mp, dir, len) || mp[len] != '/')
			continue;
		if (!(nm = realloc(mnts, (n + 1) * sizeof(*mnts))))
			break;
		mnts = nm;
		mnts[n++] = strdup(mp);
	}
	fclose(f);
	while (n--) {               /* mountinfo lists parents first */
		if (mnts[n] && umount2(mnts[n], 0) && umount2(mnts[n], MNT_DETACH))
			fprintf(stderr, "petrel: cannot unmount %s: %s\n", mnts[n], strerror(errno));
		free(mnts[n]);
	}
	free(mnts);
}

/* This file's commands and their help: main.c lists and matches them. */
const struct command container_commands[] = {
	{ "run", NULL, cmd_run, "run a container with runc on a petrel endpoint",
	  "petrel [-j] [--node NAME] run NAME --rootfs DIR | --image REF\n"
	  "       [--publish HOSTPORT:PORT[/tcp|udp]]... [--label KEY=VALUE]... [--env KEY=VALUE]...\n"
	  "       [--memory BYTES] -- CMD [ARG]...\n\n"
	  "Runs CMD in a new container NAME on the node, with runc. Its root file system is an\n"
	  "overlay: DIR, or the image's layers, are the read-only lower layers and are never\n"
	  "modified; writes land in the container's bundle (<state-dir>/containers/NAME/upper).\n"
	  "With --image, REF is an image in the node's containers-storage (what podman pull, load\n"
	  "or import put there; petreld.conf's containers-storage names the store) or an OCI image\n"
	  "layout directory, oci:DIR[:TAG], whose layers are unpacked once by digest under the\n"
	  "state directory. The image's Entrypoint, Cmd, Env, WorkingDir and User apply; CMD, when\n"
	  "given, replaces Cmd, and --env overrides the image's variables. Its network is a petrel endpoint\n"
	  "of the same name (addresses, labels, published ports); it gets its own pid, ipc, uts and\n"
	  "mount namespaces and the cgroup /petrel/<node>/NAME. Standard output and error are\n"
	  "captured by the agent (see `petrel logs`); all three standard fds are pipes, so the\n"
	  "container can be checkpointed with CRIU. The node's <state-dir>/latency directory is\n"
	  "mounted read-only at /run/petrel. If any step fails, nothing of the container is left.\n\n"
	  "Options:\n"
	  "  --rootfs DIR                   root file system (e.g. from scripts/mkrootfs.sh)\n"
	  "  --image REF                    an OCI image: oci:DIR[:TAG], or a containers-storage name\n"
	  "  --publish HOSTPORT:PORT[/P]    publish a port on the node, tcp by default (repeatable)\n"
	  "  --label KEY=VALUE              a label for policy selectors (repeatable)\n"
	  "  --env KEY=VALUE                an environment variable (repeatable); PATH has a default\n"
	  "  --memory BYTES                 memory limit; suffixes K, M, G (powers of 1024)\n\n"
	  "Examples:\n  petrel --node node1 run web --rootfs /srv/rootfs --publish 8080:80 -- httpd -f -p 80\n"
	  "  petrel --node node1 run app --image oci:/srv/images/app:1.0\n" },
	{ "ps", NULL, cmd_ps, "list every container in the cluster",
	  "petrel [-j] [--node NAME] ps\n\n"
	  "Lists every container in the cluster, whichever node answers: name, node, state\n"
	  "(creating, running, stopped, exited, error, migrating) with the exit code once it has\n"
	  "ended, host pid, addresses, published ports and command. A container whose process\n"
	  "ended on its own shows as exited.\n\n"
	  "Example:\n  petrel -j ps | jq -r '.[] | .name + \" \" + .state + \" \" + .ipv4'\n" },
	{ "logs", NULL, cmd_logs, "print a container's output",
	  "petrel [--node NAME] logs NAME [--follow]\n\n"
	  "Prints what the container wrote to its standard output and error, as captured by the\n"
	  "agent of its node (asked automatically in a lab). --follow (-f) keeps printing new\n"
	  "output until the container ends.\n\n"
	  "Example:\n  petrel logs web --follow\n" },
	{ "stop", NULL, cmd_stop, "stop a container (SIGTERM, then SIGKILL)",
	  "petrel [-j] [--node NAME] stop NAME [--timeout SECONDS]\n\n"
	  "Sends SIGTERM to the container's process, and SIGKILL when it has not ended after\n"
	  "SECONDS (default 10, 0-3600). The container becomes 'stopped' with its exit code (128+N\n"
	  "for signal N); its file system changes, logs and endpoint stay until `petrel rm`.\n"
	  "Stopping a container that already ended does nothing.\n\n"
	  "Example:\n  petrel stop web --timeout 2\n" },
	{ "rm", NULL, cmd_rm, "remove a container and everything it has",
	  "petrel [--node NAME] rm NAME [--force]\n\n"
	  "Removes a container that is not running: its runc state, overlay mount, bundle (file\n"
	  "system changes and logs), endpoint, network namespace and record. A running container\n"
	  "needs --force (-f), which kills it first.\n\n"
	  "Example:\n  petrel rm --force web\n" },
	{ "exec", NULL, cmd_exec, "run a command inside a running container",
	  "petrel [--node NAME] exec NAME -- CMD [ARG]...\n\n"
	  "Runs CMD inside the container (all its namespaces and its cgroup) with `runc exec`, on\n"
	  "this machine, with this terminal's standard input and output. The exit status is CMD's.\n"
	  "Needs root.\n\n"
	  "Example:\n  petrel exec web -- cat /etc/hostname\n" },
	{ 0 }
};

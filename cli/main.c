/* petrel: command-line client of petreld and builder of lab clusters. Two-level, exact
 * dispatch (object, then verb) from one table that also generates the usage text. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli.h"
#include "args.h"
#include "man.h"
#include "api_client.h"
#include "print.h"

/* Every object file's command table, in the order `petrel --help` lists them. */
static const struct command *const tables[] = { lab_commands, lab_router_commands, node_commands, endpoint_commands, policy_commands, container_commands, migrate_commands, latency_commands, ioam_commands, check_commands, etcd_commands };

/* The tables as one array, made once at start. */
static struct command commands[64];
static size_t N_COMMANDS;

static void commands_init(void)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct command *k = tables[t]; k->object && N_COMMANDS < 64; k++)
			commands[N_COMMANDS++] = *k;
}

static void usage(FILE *f)
{
	const char *last = "";

	fprintf(f, "Usage: petrel [-j] [--lab LAB] [--node NAME | --socket PATH] OBJECT VERB [ARGS]...\n"
		   "       petrel [-j] [--lab LAB] [--node NAME | --socket PATH] COMMAND [ARGS]...\n\n"
		   "petrel drives a petrel container network: its node agents (petreld) and lab clusters.\n\n"
		   "Global options:\n"
		   "  -j, --json       print JSON instead of text\n"
		   "  --lab LAB        the lab --node refers to (default: $PETREL_LAB or petrel)\n"
		   "  --node NAME      talk to the agent of lab node NAME\n"
		   "  --socket PATH    talk to the agent listening on PATH (default " DEFAULT_SOCKET ")\n"
		   "  -h, --help       this help; `petrel OBJECT VERB --help` describes one command\n"
		   "  --man            this help and every command's, as a manual page, petrel(8)\n"
		   "  --completion bash\n"
		   "                   a bash completion script for petrel's objects and verbs\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(last, commands[i].object) && (commands[i].verb || (i && commands[i - 1].verb)))
			fputc('\n', f);
		fprintf(f, "  %-8s %-7s %s\n", commands[i].object, commands[i].verb ? commands[i].verb : "",
			commands[i].summary);
		last = commands[i].object;
	}
	fprintf(f, "\nExample:\n  petrel lab up --nodes 3 && petrel --node node1 endpoint add web\n"
		   "  petrel --node node1 run web --rootfs ./rootfs --publish 8080:80 -- httpd -f -p 80\n");
}

/* petrel(8): the usage, then every command's own help, as `petrel OBJECT VERB --help`
 * prints it. */
static void man(FILE *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (m) {
		usage(m);
		fclose(m);
	}
	man_begin(f, "petrel", 8, "drive a petrel container network and its labs");
	man_section(f, "DESCRIPTION");
	man_text(f, text ? text : "");
	free(text);
	man_section(f, "COMMANDS");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		fprintf(f, ".SS %s%s%s\n", commands[i].object, commands[i].verb ? " " : "",
			commands[i].verb ? commands[i].verb : "");
		man_text(f, commands[i].help);
	}
	man_section(f, "SEE ALSO");
	fputs("petreld(8), petrel-cni(8), petreld.conf(5)\n", f);
	man_end(f);
}

/* A bash completion script: objects, then each object's verbs, from the command table. */
static void completion(FILE *f)
{
	fputs("# bash completion for petrel, made by `petrel --completion bash`\n"
	      "_petrel() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} obj= i\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tcase ${COMP_WORDS[i]} in\n"
	      "\t\t--lab|--node|--socket) ((i++)) ;;\n"
	      "\t\t-*) ;;\n"
	      "\t\t*) obj=${COMP_WORDS[i]}; break ;;\n"
	      "\t\tesac\n"
	      "\tdone\n"
	      "\tif [ -z \"$obj\" ]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"", f);
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!i || strcmp(commands[i].object, commands[i - 1].object))
			fprintf(f, "%s ", commands[i].object);
	fputs("-j --json --lab --node --socket --help\" -- \"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\t[ $((COMP_CWORD - i)) -eq 1 ] || { COMPREPLY=($(compgen -f -- \"$cur\")); return; }\n"
	      "\tcase $obj in\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (!commands[i].verb || (i && !strcmp(commands[i].object, commands[i - 1].object)))
			continue;
		fprintf(f, "\t%s) COMPREPLY=($(compgen -W \"", commands[i].object);
		for (size_t k = i; k < N_COMMANDS && !strcmp(commands[k].object, commands[i].object); k++)
			fprintf(f, "%s ", commands[k].verb ? commands[k].verb : "");
		fputs("--help\" -- \"$cur\")) ;;\n", f);
	}
	fputs("\t*) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	      "\tesac\n"
	      "}\n"
	      "complete -F _petrel petrel\n", f);
}

static int print_line(json_t *line, void *arg)
{
	print_stream_record(line, NULL);
	return 0;
}

int cli_stream(struct cli *c, const char *path, const char *what)
{
	const char *sock;
	long status = 0;
	int err, ret;

	sock = cli_socket(c, &err);
	if (!sock)
		return err;
	ret = api_stream(sock, "GET", path, NULL, print_line, NULL, &status);
	if (ret)
		return cli_error(c, "no agent answers on %s: %s", sock, strerror(-ret));
	if (status != 200)
		return cli_error(c, "the agent refused the %s query (HTTP %ld)", what, status);
	return 0;
}

int cli_get(struct cli *c, const char *cmd, int argc, char **argv, const char *path, json_t **resp)
{
	if (argc)
		return cli_usage(c, cmd, "unexpected argument '%s'", argv[0]);
	return cli_api(c, "GET", path, NULL, resp);
}

int cli_args(struct cli *c, const char *cmd, const struct args_opt *opts, void *cfg, int argc,
	     char **argv, const char **pos, int npos, int *rest)
{
	char err[320];

	if (args_parse(opts, cfg, argc, argv, pos, npos, rest, err, sizeof(err)))
		return cli_usage(c, cmd, "%s", err);
	return 0;
}

const char *json_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

int cli_error(struct cli *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c && c->json) {
		json_t *j = json_pack("{s:s}", "error", msg);
		json_dumpf(j, stderr, JSON_COMPACT);
		fputc('\n', stderr);
		json_decref(j);
	} else {
		fprintf(stderr, "petrel: %s\n", msg);
	}
	return 1;
}

int cli_usage(struct cli *c, const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error(c, "%s (see `petrel %s --help`)", msg, cmd);
	return 2;
}

bool cli_is_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

int cli_require_root(struct cli *c, const char *what)
{
	if (geteuid() == 0)
		return 0;
	return cli_error(c, "%s needs root (it creates network namespaces, links and eBPF programs); "
			 "run it with sudo", what);
}

const char *cli_socket(struct cli *c, int *err)
{
	struct stat st;
	char dir[256];

	*err = 0;
	if (*c->socket)
		return c->socket;
	if (c->socket_opt) {
		snprintf(c->socket, sizeof(c->socket), "%s", c->socket_opt);
	} else if (c->node) {
		snprintf(dir, sizeof(dir), LAB_DIR "/%s", c->lab);
		if (stat(dir, &st)) {
			*err = cli_error(c, "no lab '%s' on this machine (start one with `petrel lab up --name %s`)",
					 c->lab, c->lab);
			return NULL;
		}
		snprintf(dir, sizeof(dir), LAB_DIR "/%s/%s", c->lab, c->node);
		if (stat(dir, &st)) {
			*err = cli_error(c, "unknown node '%s' in lab '%s' (see `petrel lab status --name %s`)",
					 c->node, c->lab, c->lab);
			return NULL;
		}
		snprintf(c->socket, sizeof(c->socket), "%s/petreld.sock", dir);
	} else {
		snprintf(c->socket, sizeof(c->socket), DEFAULT_SOCKET);
		/* No agent of this machine, but a lab: its first node answers for the cluster. */
		snprintf(dir, sizeof(dir), LAB_DIR "/%s/node1/petreld.sock", c->lab);
		if (stat(DEFAULT_SOCKET, &st) && stat(dir, &st) == 0)
			snprintf(c->socket, sizeof(c->socket), "%s", dir);
	}
	return c->socket;
}

int cli_api(struct cli *c, const char *method, const char *path, json_t *body, json_t **resp)
{
	return cli_api_timeout(c, method, path, body, 0, resp);
}

int cli_api_timeout(struct cli *c, const char *method, const char *path, json_t *body,
		    long timeout_ms, json_t **resp)
{
	long status = 0;
	int err, ret;
	const char *sock = cli_socket(c, &err);

	*resp = NULL;
	if (!sock)
		return err;
	ret = api_call(sock, method, path, body, timeout_ms, &status, resp);
	if (ret == -ECONNREFUSED || ret == -ENOENT)
		return cli_error(c, "no agent answers on %s (is petreld running%s%s%s?)", sock,
				 c->node ? " for node " : "", c->node ? c->node : "", c->node ? " of the lab" : "");
	if (ret)
		return cli_error(c, "talking to the agent on %s: %s", sock, strerror(-ret));
	if (status < 200 || status >= 300) {
		const char *msg = json_string_value(json_object_get(*resp, "error"));
		const char *hint = json_string_value(json_object_get(*resp, "hint"));

		if (hint && *hint)
			cli_error(c, "%s (hint: %s)", msg ? msg : "request failed", hint);
		else
			cli_error(c, "%s", msg ? msg : "request failed");
		json_decref(*resp);
		*resp = NULL;
		return 1;
	}
	return 0;
}

/* Insert an implied verb after the object at argv[i]. -ENOMEM, or 0. */
static int insert_verb(int *argc, char ***argv, int i, char *verb)
{
	char **nargv = calloc((size_t)*argc + 2, sizeof(char *));

	if (!nargv)
		return -ENOMEM;
	memcpy(nargv, *argv, (size_t)(i + 1) * sizeof(char *));
	nargv[i + 1] = verb;
	memcpy(nargv + i + 2, *argv + i + 1, (size_t)(*argc - i - 1) * sizeof(char *));
	*argv = nargv;
	(*argc)++;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { .lab = getenv("PETREL_LAB") };
	int i;

	commands_init();
	if (!c.lab || !*c.lab)
		c.lab = DEFAULT_LAB;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			c.json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--man")) {
			man(stdout);
			return 0;
		} else if (!strcmp(a, "--completion") && i + 1 < argc && !strcmp(argv[i + 1], "bash")) {
			completion(stdout);
			return 0;
		} else if ((!strcmp(a, "--lab") || !strcmp(a, "--node") || !strcmp(a, "--socket")) && i + 1 < argc) {
			if (!strcmp(a, "--lab"))
				c.lab = argv[++i];
			else if (!strcmp(a, "--node"))
				c.node = argv[++i];
			else
				c.socket_opt = argv[++i];
		} else {
			fprintf(stderr, "petrel: unknown option '%s'\n\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (c.node && c.socket_opt)
		return cli_usage(&c, "--help", "--node and --socket are exclusive");
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "help")) {
		usage(stdout);
		return 0;
	}
	print_init(c.json);
	/* `petrel flows [OPTIONS]` is short for `petrel flows show [OPTIONS]`. */
	static char show[] = "show";
	if (!strcmp(argv[i], "flows") && (i + 1 >= argc || argv[i + 1][0] == '-') &&
	    insert_verb(&argc, &argv, i, show))
		return 1;
	/* `petrel ping NAME TARGET` is short for `petrel ping run NAME TARGET`. */
	static char run[] = "run";
	if (!strcmp(argv[i], "ping") && i + 1 < argc && strcmp(argv[i + 1], "run") &&
	    insert_verb(&argc, &argv, i, run))
		return 1;
	for (size_t k = 0; k < N_COMMANDS; k++) {
		if (strcmp(argv[i], commands[k].object))
			continue;
		if (!commands[k].verb) {
			if (cli_is_help(argc - i - 1, argv + i + 1)) {
				printf("Usage: %s", commands[k].help);
				return 0;
			}
			int ret = commands[k].fn(&c, argc - i - 1, argv + i + 1);
			if (ret == 0)
				print_flush();
			return ret;
		}
		if (i + 1 >= argc || !strcmp(argv[i + 1], "help") || !strcmp(argv[i + 1], "--help")) {
			fprintf(i + 1 >= argc ? stderr : stdout, "petrel %s verbs:\n", argv[i]);
			for (size_t v = 0; v < N_COMMANDS; v++)
				if (!strcmp(commands[v].object, argv[i]))
					fprintf(i + 1 >= argc ? stderr : stdout, "  %-7s %s\n", commands[v].verb,
						commands[v].summary);
			return i + 1 >= argc ? 2 : 0;
		}
		for (size_t v = 0; v < N_COMMANDS; v++) {
			if (strcmp(commands[v].object, argv[i]) || strcmp(commands[v].verb, argv[i + 1]))
				continue;
			if (cli_is_help(argc - i - 2, argv + i + 2)) {
				printf("Usage: %s", commands[v].help);
				return 0;
			}
			int ret = commands[v].fn(&c, argc - i - 2, argv + i + 2);
			if (ret == 0)
				print_flush();
			return ret;
		}
		fprintf(stderr, "petrel: '%s' is not a verb of '%s'; valid verbs:", argv[i + 1], argv[i]);
		for (size_t v = 0; v < N_COMMANDS; v++)
			if (!strcmp(commands[v].object, argv[i]))
				fprintf(stderr, " %s", commands[v].verb);
		fputc('\n', stderr);
		return 2;
	}
	fprintf(stderr, "petrel: unknown object '%s'; valid objects:", argv[i]);
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			fprintf(stderr, "; commands:");
		for (size_t k = 0; k < N_COMMANDS; k++) {
			bool seen = false;

			for (size_t j = 0; j < k && !seen; j++)
				seen = !strcmp(commands[j].object, commands[k].object);
			if (!seen && (commands[k].verb == NULL) == (pass == 1))
				fprintf(stderr, " %s", commands[k].object);
		}
	}
	fputc('\n', stderr);
	return 2;
}

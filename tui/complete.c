/*
 * complete.c: shell completion. `sdq completion bash|zsh|fish` prints a small
 * script for each shell; at each Tab the script asks `sdq completion
 * --complete CWORD WORD...` what to offer, and this file answers from the
 * tables --help prints (cli.c), the config, the history and params. So a new
 * command, option or endpoint is completed without touching the scripts.
 */
#include "complete.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "job.h"
#include "params.h"
#include "store.h"
#include "text.h"
#include "util.h"

/* How many jobs of the history to offer (the newest). */
#define COMPLETE_JOBS 200

static const char bash_script[] =
    "# bash completion for sdq: written by `sdq completion bash`. The names come\n"
    "# from sdq itself (its command and option tables, config, history).\n"
    "_sdq()\n"
    "{\n"
    "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prog=${COMP_WORDS[0]} line value\n"
    "\tprog=${prog/#\\~/$HOME}\n"
    "\tCOMPREPLY=()\n"
    "\twhile IFS= read -r line; do\n"
    "\t\tcase $line in\n"
    "\t\t::files)\n"
    "\t\t\tcompopt -o filenames 2>/dev/null\n"
    "\t\t\tmapfile -t -O \"${#COMPREPLY[@]}\" COMPREPLY < <(compgen -f -- \"$cur\") ;;\n"
    "\t\t::dirs)\n"
    "\t\t\tcompopt -o filenames 2>/dev/null\n"
    "\t\t\tmapfile -t -O \"${#COMPREPLY[@]}\" COMPREPLY < <(compgen -d -- \"$cur\") ;;\n"
    "\t\t*)\n"
    "\t\t\tvalue=${line%%$'\\t'*}\n"
    "\t\t\tcase $value in\n"
    "\t\t\t*[!A-Za-z0-9_.,:/=+@%-]*) printf -v value %q \"$value\" ;;\n"
    "\t\t\tesac\n"
    "\t\t\tCOMPREPLY+=(\"$value\") ;;\n"
    "\t\tesac\n"
    "\tdone < <(command \"$prog\" completion --complete \"$COMP_CWORD\" \"${COMP_WORDS[@]}\" "
    "2>/dev/null)\n"
    "}\n"
    "complete -F _sdq sdq\n";

static const char zsh_script[] =
    "#compdef sdq\n"
    "# zsh completion for sdq: written by `sdq completion zsh`. The names come\n"
    "# from sdq itself (its command and option tables, config, history).\n"
    "_sdq() {\n"
    "\tlocal -a lines cands\n"
    "\tlocal line v d files=0 dirs=0\n"
    "\tlines=(\"${(@f)$(command ${~words[1]} completion --complete $((CURRENT - 1)) "
    "\"${(@)words}\" 2>/dev/null)}\")\n"
    "\tfor line in $lines; do\n"
    "\t\tcase $line in\n"
    "\t\t::files) files=1 ;;\n"
    "\t\t::dirs) dirs=1 ;;\n"
    "\t\t?*)\n"
    "\t\t\tv=${line%%$'\\t'*}\n"
    "\t\t\td=${line#*$'\\t'}\n"
    "\t\t\t[[ $d == $line ]] && d=\n"
    "\t\t\tcands+=(\"${v//:/\\\\:}${d:+:$d}\") ;;\n"
    "\t\tesac\n"
    "\tdone\n"
    "\t(( ${#cands} )) && _describe -t values sdq cands\n"
    "\t(( files )) && _files\n"
    "\t(( dirs )) && _files -/\n"
    "\treturn 0\n"
    "}\n"
    "if [[ $funcstack[1] == _sdq ]]; then _sdq \"$@\"; else compdef _sdq sdq; fi\n";

static const char fish_script[] =
    "# fish completion for sdq: written by `sdq completion fish`. The names come\n"
    "# from sdq itself (its command and option tables, config, history).\n"
    "function __sdq_complete\n"
    "\tset -l tokens (commandline -opc)\n"
    "\tset -l cur (commandline -ct)\n"
    "\tfor line in (command $tokens[1] completion --complete (count $tokens) $tokens "
    "$cur 2>/dev/null)\n"
    "\t\tswitch $line\n"
    "\t\t\tcase '::files'\n"
    "\t\t\t\t__fish_complete_path $cur\n"
    "\t\t\tcase '::dirs'\n"
    "\t\t\t\t__fish_complete_directories $cur\n"
    "\t\t\tcase '*'\n"
    "\t\t\t\tprintf '%s\\n' $line\n"
    "\t\tend\n"
    "\tend\n"
    "end\n"
    "complete -c sdq -e\n"
    "complete -c sdq -f -a '(__sdq_complete)'\n";

/* What the command line says so far. */
struct line {
	const struct cli_command *cmd;
	const char *config, *endpoint, *template_name; /* raw words, or NULL */
	int operands;                                  /* operands before the current word */
	const char *cur;                               /* the current word, unquoted */
	const char *vprefix; /* "--name=" when the current word is one: kept before values */
	char *vprefix_buf;
	char *cur_buf;
	FILE *out;
	int err;
};

/* The word as the shell will pass it: without quotes and backslashes (the
 * shells hand the raw text of the word being completed). Malloc'd. */
static char *unquote(const char *w)
{
	char *r = malloc(strlen(w) + 1), *o = r;
	char q = 0;

	if (!r)
		return NULL;
	for (; *w; w++) {
		if (q && *w == q)
			q = 0;
		else if (!q && (*w == '\'' || *w == '"'))
			q = *w;
		else if (*w == '\\' && q != '\'' && w[1])
			*o++ = *++w;
		else
			*o++ = *w;
	}
	*o = 0;
	return r;
}

/* Print one candidate if it starts with the current word: "value\tdesc", the
 * description sanitised and on one line. prefix goes before value (the part
 * of a comma list already typed), and the line's vprefix before both. */
static void offer(struct line *l, const char *prefix, const char *value, const char *desc)
{
	char full[512];
	char *d = NULL;

	snprintf(full, sizeof full, "%s%s%s", l->vprefix ? l->vprefix : "", prefix ? prefix : "",
	         value);
	if (strncmp(full, l->cur, strlen(l->cur)) != 0 || strpbrk(full, "\t\n\r"))
		return;
	if (desc && (d = text_sanitize_str(desc, 0)))
		for (char *p = d; *p; p++)
			if (*p == '\t' || *p == '\n' || *p == '\r')
				*p = ' ';
	if (fprintf(l->out, "%s%s%s\n", full, d && *d ? "\t" : "", d ? d : "") < 0)
		l->err = 1;
	free(d);
}

/* The first line of an option's help, for a description. */
static void offer_opt(struct line *l, const char *name, const char *help)
{
	char d[96];
	size_t n = strcspn(help ? help : "", "\n");

	snprintf(d, sizeof d, "%.*s", (int)(n < sizeof d ? n : sizeof d - 1), help ? help : "");
	offer(l, NULL, name, d);
}

static void offer_opts(struct line *l, const struct cli_opt *opts, int with_help)
{
	char name[72];
	int shorts = l->cur[0] == '-' && l->cur[1] != '-';

	for (const struct cli_opt *o = opts; o && (o->lng || o->arg); o++) {
		if (!o->lng)
			continue;
		snprintf(name, sizeof name, "--%s", o->lng);
		offer_opt(l, name, o->help);
		if (o->shrt && shorts) {
			snprintf(name, sizeof name, "-%c", o->shrt);
			offer_opt(l, name, o->help);
		}
	}
	if (with_help) {
		offer_opt(l, "--help", "this command's help");
		if (shorts)
			offer_opt(l, "-h", "this command's help");
	}
}

/* The config the line names (--config), else the usual one. NULL when it
 * cannot be read: completion then has no names from it. */
static struct config *line_config(const struct line *l)
{
	struct config *cfg;
	char *err = NULL;

	if (l->config) {
		char *p = unquote(l->config), *full = p;
		const char *home = getenv("HOME");

		if (p && p[0] == '~' && p[1] == '/' && home)
			full = util_asprintf("%s%s", home, p + 1);
		if (full)
			setenv("SDQ_CONFIG", full, 1);
		if (full != p)
			free(full);
		free(p);
	}
	cfg = config_load(&err);
	free(err);
	return cfg;
}

static void offer_endpoints(struct line *l)
{
	struct config *cfg = line_config(l);

	for (size_t i = 0; cfg && i < cfg->n_endpoints; i++) {
		const struct config_endpoint *ep = &cfg->endpoints[i];
		offer(l, NULL, ep->name, ep->kind == CONFIG_LOCAL ? "local sd-cli" : ep->url);
	}
	config_free(cfg);
}

static void offer_jobs(struct line *l)
{
	struct config *cfg = line_config(l);
	struct store *st = NULL;
	struct store_query q = {0};
	struct job **jobs = NULL;
	size_t n = 0;
	char *err = NULL;

	/* Never create a history just to complete a word. */
	if (cfg && access(cfg->db_path, F_OK) == 0)
		st = store_open(cfg->db_path, &err);
	q.limit = COMPLETE_JOBS;
	if (st && store_job_list(st, &q, &jobs, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			char id[24], desc[120];
			const char *p = jobs[i]->params.prompt ? jobs[i]->params.prompt : "";

			snprintf(id, sizeof id, "%lld", (long long)jobs[i]->id);
			snprintf(desc, sizeof desc, "%s %.80s", job_state_name(jobs[i]->state), p);
			offer(l, NULL, id, desc);
		}
		store_jobs_free(jobs, n);
	}
	free(err);
	store_close(st);
	config_free(cfg);
}

static void offer_groups(struct line *l)
{
	struct config *cfg = line_config(l);
	struct store *st = NULL;
	struct store_query q = {0};
	struct store_group **g = NULL;
	size_t n = 0;
	char *err = NULL;

	if (cfg && access(cfg->db_path, F_OK) == 0)
		st = store_open(cfg->db_path, &err);
	q.limit = COMPLETE_JOBS;
	if (st && store_group_list(st, &q, &g, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			char id[24], desc[120];

			snprintf(id, sizeof id, "%lld", (long long)g[i]->id);
			snprintf(desc, sizeof desc, "%d jobs: %.80s", g[i]->nhistory,
			         g[i]->prompt ? g[i]->prompt : "");
			offer(l, NULL, id, desc);
		}
		store_groups_free(g, n);
	}
	free(err);
	store_close(st);
	config_free(cfg);
}

static void offer_templates(struct line *l)
{
	struct config *cfg = line_config(l);
	const char *name;
	char *dir = NULL;
	DIR *d;

	for (size_t i = 0; (name = params_builtin_name(i)); i++)
		offer(l, NULL, name, "built-in template");
	if (cfg && (dir = util_asprintf("%s/templates", cfg->config_dir)) && (d = opendir(dir))) {
		struct dirent *e;

		while ((e = readdir(d))) {
			size_t n = strlen(e->d_name);
			char base[80];

			if (n <= 5 || n - 5 >= sizeof base ||
			    strcmp(e->d_name + n - 5, ".json") != 0)
				continue;
			snprintf(base, sizeof base, "%.*s", (int)(n - 5), e->d_name);
			if (params_template_name_ok(base) && !params_sampler_names(base))
				offer(l, NULL, base, "template file");
		}
		closedir(d);
	}
	free(dir);
	config_free(cfg);
}

/* The samplers of the template the line names (--template), else of its
 * endpoint's (-e), else of the default one. */
static void offer_samplers(struct line *l)
{
	struct config *cfg = NULL;
	char *tname = l->template_name ? unquote(l->template_name) : NULL;
	const char *t = tname;
	const char *const *names;

	if (!t) {
		char *ep = l->endpoint ? unquote(l->endpoint) : NULL;
		const struct config_endpoint *e;

		cfg = line_config(l);
		e = cfg ? config_endpoint(cfg, ep ? ep : getenv("SDQ_ENDPOINT")) : NULL;
		t = e && e->template_name ? e->template_name : PARAMS_DEFAULT_TEMPLATE;
		free(ep);
	}
	names = params_sampler_names(t);
	for (size_t i = 0; names && names[i]; i++)
		offer(l, NULL, names[i], t);
	free(tname);
	config_free(cfg);
}

/* States for --state S,S: the part before the last comma stays. */
static void offer_states(struct line *l)
{
	size_t vl = l->vprefix ? strlen(l->vprefix) : 0;
	const char *typed = strlen(l->cur) >= vl ? l->cur + vl : "";
	const char *comma = strrchr(typed, ',');
	char *prefix = comma ? util_asprintf("%.*s", (int)(comma - typed + 1), typed) : NULL;

	for (int s = 0; s < JOB_STATE_COUNT; s++)
		if (s != JOB_OTHER)
			offer(l, prefix, job_state_name((enum job_state)s), NULL);
	offer(l, prefix, "live", "every state not finished");
	offer(l, prefix, "done", "every finished state");
	free(prefix);
}

static void offer_commands(struct line *l)
{
	for (const struct cli_command *c = cli_commands(); c->name; c++)
		offer(l, NULL, c->name, c->summary);
}

static void offer_value(struct line *l, enum cli_value v)
{
	switch (v) {
	case CLI_V_ENDPOINT:
		offer_endpoints(l);
		break;
	case CLI_V_JOB:
		offer_jobs(l);
		break;
	case CLI_V_JOB_FILE:
		offer_jobs(l);
		fputs("::files\n", l->out);
		break;
	case CLI_V_TEMPLATE:
		offer_templates(l);
		break;
	case CLI_V_GROUP:
		offer_groups(l);
		break;
	case CLI_V_SAMPLER:
		offer_samplers(l);
		break;
	case CLI_V_STATE:
		offer_states(l);
		break;
	case CLI_V_FILE:
		fputs("::files\n", l->out);
		break;
	case CLI_V_DIR:
		fputs("::dirs\n", l->out);
		break;
	case CLI_V_COMMAND:
		offer_commands(l);
		break;
	case CLI_V_SHELL:
		offer(l, NULL, "bash", NULL);
		offer(l, NULL, "zsh", NULL);
		offer(l, NULL, "fish", NULL);
		break;
	case CLI_V_FORMAT:
		offer(l, NULL, "jsonl", "one JSON object a line");
		offer(l, NULL, "csv", "RFC 4180, for spreadsheets");
		break;
	case CLI_V_NONE:
	case CLI_V_NUMBER:
		break;
	}
}

/* The option word w names in opts (NULL: none); *inline_val is set when the
 * value is part of the word (--name=VALUE, -xVALUE). */
static const struct cli_opt *match_opt(const struct cli_opt *opts, const char *w,
                                       const char **inline_val)
{
	*inline_val = NULL;
	for (const struct cli_opt *o = opts; o && (o->lng || o->arg); o++) {
		if (w[1] == '-' && o->lng) {
			size_t n = strlen(o->lng);

			if (strncmp(w + 2, o->lng, n) == 0 && (w[2 + n] == 0 || w[2 + n] == '=')) {
				if (w[2 + n] == '=')
					*inline_val = w + 3 + n;
				return o;
			}
		} else if (w[1] != '-' && o->shrt && w[1] == o->shrt) {
			if (w[2] && o->arg)
				*inline_val = w + 2;
			return o;
		}
	}
	return NULL;
}

/* Remember the values that change what other words complete to. */
static void note_value(struct line *l, const struct cli_opt *o, const char *v)
{
	if (!o->lng)
		return;
	if (!l->cmd && strcmp(o->lng, "config") == 0)
		l->config = v;
	else if (strcmp(o->lng, "endpoint") == 0)
		l->endpoint = v;
	else if (strcmp(o->lng, "template") == 0)
		l->template_name = v;
}

int complete_words(FILE *out, int cword, int n, char **words)
{
	struct line l = {0};
	const struct cli_opt *opts = cli_global_opts(), *pending = NULL, *last = NULL;
	int dashdash = 0;

	l.out = out;
	if (cword < 1 || cword > n)
		return 0;
	l.cur_buf = unquote(cword < n ? words[cword] : "");
	if (!l.cur_buf)
		return -1;
	l.cur = l.cur_buf;
	for (int j = 1; j < cword; j++) {
		const char *w = words[j], *v;

		if (pending) {
			/* bash splits --name=VALUE at '=' into three words */
			if (strcmp(w, "=") == 0 && pending == last)
				continue;
			note_value(&l, pending, w);
			pending = NULL;
			continue;
		}
		if (!dashdash && l.cmd && strcmp(w, "--") == 0) {
			dashdash = 1;
			continue;
		}
		if (!dashdash && w[0] == '-' && w[1]) {
			const struct cli_opt *o = match_opt(opts, w, &v);

			last = o;
			if (o && o->arg && !v)
				pending = o;
			else if (o && v)
				note_value(&l, o, v);
			continue;
		}
		if (!l.cmd) {
			if (!(l.cmd = cli_command_find(w)))
				goto done; /* an unknown command: nothing to offer */
			opts = l.cmd->opts;
			continue;
		}
		l.operands++;
	}
	if (pending && !(cword < n && strcmp(words[cword], "=") == 0)) {
		offer_value(&l, pending->value);
	} else if (!dashdash && strncmp(l.cur, "--", 2) == 0 && strchr(l.cur, '=')) {
		/* --name=VALUE in one word (zsh, fish) */
		const char *v;
		const struct cli_opt *o = match_opt(opts, l.cur, &v);

		if (o && o->arg && v) {
			l.vprefix_buf = util_asprintf("%.*s", (int)(v - l.cur), l.cur);
			l.vprefix = l.vprefix_buf;
			if (l.vprefix && o->value != CLI_V_FILE && o->value != CLI_V_DIR)
				offer_value(&l, o->value);
		}
	} else if (l.cur[0] == '-' && !dashdash) {
		offer_opts(&l, opts, l.cmd != NULL);
	} else if (!l.cmd) {
		offer_commands(&l);
	} else if (strcmp(l.cmd->name, "demo") == 0) {
		/* sdq demo COMMAND ARGS: only the command itself */
		if (l.operands == 0) {
			offer_commands(&l);
			offer(&l, NULL, "env", "the shell lines that join the running demo");
		}
	} else if (l.cmd->operand == CLI_V_COMMAND || l.cmd->operand == CLI_V_SHELL) {
		if (l.operands == 0)
			offer_value(&l, l.cmd->operand);
	} else {
		offer_value(&l, l.cmd->operand);
	}
done:
	free(l.vprefix_buf);
	free(l.cur_buf);
	if (fflush(out) != 0)
		l.err = 1;
	return l.err ? -1 : 0;
}

int complete_run(struct config *cfg, int argc, char **argv)
{
	long cword;

	(void)cfg;
	if (cmd_help_opt("completion", argc, argv))
		return 0;
	if (argc >= 2 && strcmp(argv[1], "--complete") == 0) {
		if (argc < 4 || cmd_parse_long(argv[2], 1, 100000, &cword) < 0)
			return cmd_usage_error("completion",
			                       "--complete needs CWORD and the words");
		return complete_words(stdout, (int)cword, argc - 3, argv + 3) < 0 ? 1 : 0;
	}
	if (argc != 2)
		return cmd_usage_error("completion", "which shell? bash, zsh or fish");
	if (strcmp(argv[1], "bash") == 0)
		fputs(bash_script, stdout);
	else if (strcmp(argv[1], "zsh") == 0)
		fputs(zsh_script, stdout);
	else if (strcmp(argv[1], "fish") == 0)
		fputs(fish_script, stdout);
	else {
		char *c = cmd_clean(argv[1]);
		int rc =
		    cmd_usage_error("completion", "no completion for '%s': bash, zsh or fish", c);

		free(c);
		return rc;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

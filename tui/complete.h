/*
 * complete.h: shell completion for bash, zsh and fish, answered by sdq itself
 * from the command and option tables of cli.c (the ones --help prints), so
 * the completions cannot drift from the commands.
 *
 * The scripts (`sdq completion bash|zsh|fish`) are thin: at each Tab they run
 * `sdq completion --complete CWORD WORD...` (the words of the command line,
 * WORD 0 being sdq itself, CWORD the index of the word being completed) and
 * offer what it prints: one candidate a line, "VALUE<TAB>DESCRIPTION", or
 * "::files" / "::dirs" for "let the shell complete file / directory names".
 * Names come from the tables, the config (endpoints; `--config FILE` on the
 * line is honoured), the history (job ids) and params (templates, samplers).
 */
#ifndef SDQ_COMPLETE_H
#define SDQ_COMPLETE_H

#include <stdio.h>

struct config;

/* sdq completion SHELL | --complete CWORD WORD...: print a script, or the
 * candidates for a command line. cfg is unused (the config named on the line
 * is loaded). Exit status as cli.h says. */
int complete_run(struct config *cfg, int argc, char **argv);

/* Print to out the candidates for word cword of words[0..n) (words[0] is the
 * program), as complete_run --complete does. Config and history are read
 * only when the word wants their names. 0, or -1 on a write error. */
int complete_words(FILE *out, int cword, int n, char **words);

#endif

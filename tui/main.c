/* main.c: placeholder until the CLI lands (tui/cli.c). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("sdq %s\n", SDQ_VERSION);
		return 0;
	}
	fprintf(stderr, "sdq: not built yet\n");
	return 1;
}

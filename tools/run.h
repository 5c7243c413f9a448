/* `uswap run` (tools/run.c), dispatched by tools/uswap.c. */
#ifndef USWAP_TOOLS_RUN_H
#define USWAP_TOOLS_RUN_H

/* run_main - argv after "run".  Return: exit status (on success exec). */
int run_main(int argc, char **argv);

#endif /* USWAP_TOOLS_RUN_H */

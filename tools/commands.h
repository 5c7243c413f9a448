/*
 * The `uswap` subcommands that live in their own files; tools/uswap.c
 * dispatches to them.  Each takes the arguments after its name and returns
 * the exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef USWAP_TOOLS_COMMANDS_H
#define USWAP_TOOLS_COMMANDS_H

/*
 * run_main - `uswap run [OPTIONS] [--] PROGRAM [ARGS...]` (run.c).  On
 * success it does not return: it execs PROGRAM.
 */
int run_main(int argc, char **argv);

/* stat_main - `uswap stat [--watch SECONDS] [--bytes] [PID...]` (stat.c) */
int stat_main(int argc, char **argv);

#endif /* USWAP_TOOLS_COMMANDS_H */

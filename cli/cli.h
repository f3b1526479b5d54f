/*
 * cli.h - the subcommands of the floret command, each in its own file.
 * Every subcommand takes argv after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status: 0 success, 1 the task or
 * job failed, 2 usage error, 3 broker/cluster unreachable.
 * Depends on the public header only.
 */
#ifndef FLORET_CLI_H
#define FLORET_CLI_H

int cli_node(int argc, char **argv);      /* cli/node.c */
int cli_call(int argc, char **argv);      /* cli/call.c */
int cli_status(int argc, char **argv);    /* cli/status.c */
int cli_events(int argc, char **argv);    /* cli/events.c */
int cli_forget(int argc, char **argv);    /* cli/forget.c */
int cli_dashboard(int argc, char **argv); /* cli/dashboard.c */
int cli_local(int argc, char **argv);     /* cli/local.c */
int cli_wordcount(int argc, char **argv); /* cli/wordcount.c */
int cli_mandelbrot(int argc, char **argv); /* cli/mandelbrot.c */
int cli_run(int argc, char **argv);       /* cli/run.c */
int cli_result(int argc, char **argv);    /* cli/result.c */
int cli_revoke(int argc, char **argv);    /* cli/revoke.c */
int cli_schedule(int argc, char **argv);  /* cli/schedule.c */
int cli_keygen(int argc, char **argv);    /* cli/keygen.c */
int cli_deploy(int argc, char **argv);    /* cli/deploy.c */
int cli_undeploy(int argc, char **argv);  /* cli/deploy.c */
int cli_shutdown(int argc, char **argv);  /* cli/deploy.c */
int cli_broker_config(int argc, char **argv); /* cli/broker_config.c */

#endif

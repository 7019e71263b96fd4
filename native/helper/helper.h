/*
 * What the parts of berth-helper share: the plan reader and step dispatch
 * (plan.c), the container-setup steps (steps.c), the monitor (monitor.c) with
 * its terminal relay (tty.c) and healthchecks (health.c).
 */
#ifndef BERTH_HELPER_H
#define BERTH_HELPER_H

#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#define PLAN_FD 3
#define STATUS_FD 4
#define MAX_FDS 64
#define MAX_PLAN (16 << 20)

/* ---- plan.c: reporting, the plan text, the step loop ---- */

extern int status_fd;
extern int exec_pipe[2]; /* a byte from the container's process: it failed before exec */
extern int step_no;
extern const char *step_op;
extern pid_t parent_pid;
extern char *plan;
extern size_t plan_len, plan_pos;
extern int plan_eof;

/* Report the failing step with errno on the status fd and exit 125 (126/127 for exec). */
__attribute__((noreturn)) void fail(int err, const char *detail);
void plan_init(void);
void plan_read_all(void);
long num(const char *s);
/* Execute the plan's steps from plan_pos on. Returns only if the plan ends without exec. */
void run_steps(void);

/* One step of the plan: its name, the argument counts it takes (-1: any), what to say otherwise. */
typedef void (*step_fn)(char **a, long argc);
struct step {
  const char *op;
  long min_args, max_args;
  const char *usage;
  step_fn run;
};

/* ---- steps.c: each step is one syscall (or a few) on the plan's values ---- */

extern int alive_pipe[2]; /* the container sees EOF on [0] once its monitor is gone */
extern const struct step setup_steps[];
extern const size_t n_setup_steps;

/* ---- monitor.c: runs and watches the container; policy that must outlive berth's Node process ---- */

extern volatile sig_atomic_t winch;
extern pid_t child_pid;
extern pid_t child_pid_target; /* in a health check: the container process whose namespaces it joins */
extern int tty_sock[2];        /* the container sends its pty master to the monitor */
extern const char *log_path;
extern const struct step monitor_steps[];
extern const size_t n_monitor_steps;

int write_all(int fd, const char *b, ssize_t n);
void now_rfc3339(char *buf, size_t n);
size_t json_escape(const unsigned char *d, size_t n, char *b);

/* ---- events.c: the lines the monitor appends to berth's event journal ---- */

extern const struct step event_steps[];
extern const size_t n_event_steps;
/* Append a container event; extra: more attributes (a JSON object body) or NULL. */
void event_emit(const char *action, const char *extra);

/* ---- tty.c ---- */

void send_fd(int sock, int fd);
int recv_fd(int sock);
/* Relay the user's terminal and the pty master until the container closes it; 1 when the user hung up. */
int relay_tty(int master);
void step_pty(char **a, long argc);

/* ---- health.c ---- */

extern char *health_plan;
extern int health_fd;
extern pid_t health_pid;
void step_health(char **a, long argc);
void health_reset(void);
int health_tick(void);
void health_read(void);
void health_stop(void);

#endif

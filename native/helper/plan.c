/*
 * The plan: netstring records "op", "argc", then argc arguments, read from fd 3
 * as they arrive, and the loop that runs each record's step through the step
 * tables (steps.c: container set-up; monitor.c: the monitor's own steps).
 */
#include "helper.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int status_fd = -1;
int exec_pipe[2] = {-1, -1};
int step_no = 0;
const char *step_op = "start";
pid_t parent_pid;

static const char *errno_name(int e) {
  switch (e) {
  case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EACCES: return "EACCES";
  case EEXIST: return "EEXIST"; case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL"; case ELOOP: return "ELOOP"; case EBUSY: return "EBUSY";
  case ENOSPC: return "ENOSPC"; case EROFS: return "EROFS"; case ENOEXEC: return "ENOEXEC";
  case ENOMEM: return "ENOMEM"; case ENODEV: return "ENODEV"; case EBADF: return "EBADF";
  case ENAMETOOLONG: return "ENAMETOOLONG"; case ENOSYS: return "ENOSYS"; case E2BIG: return "E2BIG";
  case ETXTBSY: return "ETXTBSY"; case EAGAIN: return "EAGAIN"; default: return "EUNKNOWN";
  }
}

void fail(int err, const char *detail) {
  char buf[4096];
  int n = snprintf(buf, sizeof buf, "error %d %s %s %s: %s\n", step_no, step_op, errno_name(err), detail ? detail : "", strerror(err));
  if (status_fd >= 0 && n > 0) { ssize_t w = write(status_fd, buf, (size_t)n); (void)w; }
  else { ssize_t w = write(2, buf, (size_t)n); (void)w; }
  if (exec_pipe[1] >= 0) { ssize_t w = write(exec_pipe[1], "e", 1); (void)w; }
  _exit(strcmp(step_op, "exec") == 0 ? (err == ENOENT ? 127 : 126) : 125);
}


/* ---- plan parsing ---- */

/*
 * The plan is read as it arrives: berth may send a first part (die-with-parent,
 * join-cgroup) and the rest later, so the helper works while berth still
 * prepares the container. The buffer is reserved once (pages are only used as
 * written), so pointers into it stay valid.
 */
char *plan;
size_t plan_len, plan_pos;
int plan_eof = 0;

/* Make n bytes from plan_pos available; 0 at the end of the plan. */
static int plan_need(size_t n) {
  while (plan_len - plan_pos < n) {
    if (plan_eof) return 0;
    if (plan_len >= MAX_PLAN) fail(E2BIG, "plan too large");
    ssize_t r = read(PLAN_FD, plan + plan_len, MAX_PLAN - plan_len);
    if (r < 0) { if (errno == EINTR) continue; fail(errno, "read plan"); }
    if (r == 0) { plan_eof = 1; close(PLAN_FD); return 0; }
    plan_len += (size_t)r;
  }
  return 1;
}

/* All of the plan in memory (before a clone: each run of the container parses its own copy of the rest). */
void plan_read_all(void) {
  while (plan_need(plan_len - plan_pos + 1)) {}
}

static char *next_str(void) {
  size_t len = 0, digits = 0;
  while (plan_need(1) && plan[plan_pos] >= '0' && plan[plan_pos] <= '9') {
    len = len * 10 + (size_t)(plan[plan_pos++] - '0');
    if (++digits > 8) fail(EINVAL, "plan: netstring length");
  }
  if (digits == 0 || !plan_need(1) || plan[plan_pos] != ':') fail(EINVAL, "plan: malformed netstring");
  plan_pos++;
  if (!plan_need(len + 1) || plan[plan_pos + len] != ',') fail(EINVAL, "plan: truncated netstring");
  char *s = plan + plan_pos;
  s[len] = '\0'; /* the ',' becomes the terminator */
  plan_pos += len + 1;
  return s;
}

long num(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s) fail(EINVAL, s);
  return v;
}

void plan_init(void) {
  plan = mmap(NULL, MAX_PLAN + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (plan == MAP_FAILED) fail(ENOMEM, "plan");
}


/* ---- dispatch ---- */

static const struct step *find_step(const char *op) {
  for (size_t i = 0; i < n_setup_steps; i++) if (!strcmp(setup_steps[i].op, op)) return &setup_steps[i];
  for (size_t i = 0; i < n_monitor_steps; i++) if (!strcmp(monitor_steps[i].op, op)) return &monitor_steps[i];
  for (size_t i = 0; i < n_event_steps; i++) if (!strcmp(event_steps[i].op, op)) return &event_steps[i];
  return NULL;
}

void run_steps(void) {
  while (plan_need(1)) {
    step_no++;
    char *op = next_str();
    step_op = op;
    long argc = num(next_str());
    if (argc < 0 || argc > 100000) fail(EINVAL, "argc");
    char **a = calloc((size_t)argc + 1, sizeof *a);
    if (!a) fail(ENOMEM, "args");
    for (long i = 0; i < argc; i++) a[i] = next_str();
    const struct step *s = find_step(op);
    if (!s) fail(EINVAL, op);
    if ((s->min_args >= 0 && argc < s->min_args) || (s->max_args >= 0 && argc > s->max_args))
      fail(EINVAL, s->usage ? s->usage : "wrong number of arguments");
    s->run(a, argc);
    free(a);
  }
}

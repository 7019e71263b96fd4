/*
 * Healthchecks: the monitor runs a sub-plan (an exec into the container) on a
 * timer and keeps Docker's health state in a file berth reads.
 */
#include "helper.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *health_plan = NULL;      /* the encoded exec plan of the check */
static long health_interval = 0, health_timeout = 0, health_start_period = 0, health_retries = 0; /* ms; retries */
static const char *health_path = NULL;
pid_t health_pid = 0;
int health_fd = -1;
static long long health_next = 0, health_deadline = 0, run_started = 0;
static char health_start_ts[64];
static char health_out[4097];
static size_t health_out_len = 0;
static int health_streak = 0;
static const char *health_status = "starting";
#define HEALTH_LOG 5
static char *health_log[HEALTH_LOG];
static int health_log_n = 0;

static long long mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void health_write(void) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", health_path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  char head[256];
  int n = snprintf(head, sizeof head, "{\"Status\":\"%s\",\"FailingStreak\":%d,\"Log\":[", health_status, health_streak);
  int ok = write_all(fd, head, n) == 0;
  for (int i = 0; i < health_log_n && ok; i++) ok = write_all(fd, i ? "," : "", i ? 1 : 0) == 0 && write_all(fd, health_log[i], (ssize_t)strlen(health_log[i])) == 0;
  ok = ok && write_all(fd, "]}\n", 3) == 0;
  close(fd);
  if (ok) rename(tmp, health_path);
}

/* A new run of the container: health starts over (Docker resets it at each start). */
void health_reset(void) {
  if (!health_plan) return;
  health_status = "starting";
  health_streak = 0;
  run_started = mono_ms();
  health_next = run_started + health_interval;
  health_write();
}

/* H: a child of the monitor that runs the check's plan with its output on a pipe */
static void health_start(void) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) return;
  now_rfc3339(health_start_ts, sizeof health_start_ts);
  pid_t pid = fork();
  if (pid < 0) { close(pfd[0]); close(pfd[1]); return; }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, NULL);
    child_pid_target = child_pid;
    child_pid = 0;
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) { dup2(null, 0); if (null > 0) close(null); }
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    status_fd = -1;
    exec_pipe[1] = -1;
    log_path = NULL;
    plan = health_plan;
    plan_len = strlen(health_plan);
    plan_pos = 0;
    plan_eof = 1;
    step_no = 0;
    run_steps();
    _exit(125);
  }
  close(pfd[1]);
  health_pid = pid;
  health_fd = pfd[0];
  health_out_len = 0;
  health_deadline = mono_ms() + health_timeout;
}

static void health_record(int code, const char *out, size_t outlen) {
  char end[64];
  now_rfc3339(end, sizeof end);
  char *esc = malloc(outlen * 6 + 1);
  if (!esc) return;
  size_t el = json_escape((const unsigned char *)out, outlen, esc);
  esc[el] = 0;
  size_t cap = el + 256;
  char *entry = malloc(cap);
  if (!entry) { free(esc); return; }
  snprintf(entry, cap, "{\"Start\":\"%s\",\"End\":\"%s\",\"ExitCode\":%d,\"Output\":\"%s\"}", health_start_ts, end, code, esc);
  free(esc);
  if (health_log_n == HEALTH_LOG) { free(health_log[0]); memmove(health_log, health_log + 1, sizeof health_log[0] * (HEALTH_LOG - 1)); health_log_n--; }
  health_log[health_log_n++] = entry;
  const char *before = health_status;
  if (code == 0) { health_status = "healthy"; health_streak = 0; }
  else if (mono_ms() - run_started >= health_start_period || !strcmp(health_status, "healthy")) {
    /* failures in the start period do not count (unless the container was healthy already) */
    if (++health_streak >= health_retries) health_status = "unhealthy";
  }
  health_write();
  if (strcmp(before, health_status)) {
    char action[64];
    snprintf(action, sizeof action, "health_status: %s", health_status);
    event_emit(action, NULL);
  }
}

/* The check ended (its pipe closed) or timed out: reap it and record the result. */
static void health_finish(int timed_out) {
  if (timed_out) kill(health_pid, SIGKILL);
  close(health_fd);
  health_fd = -1;
  int st = 0;
  while (waitpid(health_pid, &st, 0) < 0 && errno == EINTR) {}
  health_pid = 0;
  if (timed_out) {
    char msg[128];
    int n = snprintf(msg, sizeof msg, "Health check exceeded timeout (%lds)", health_timeout / 1000);
    health_record(-1, msg, (size_t)n);
  } else {
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    health_record(code, health_out, health_out_len);
  }
  health_next = mono_ms() + health_interval;
}

/* poll timeout until the next health event, and the work due now */
int health_tick(void) {
  if (!health_plan) return -1;
  long long now = mono_ms();
  if (health_pid) {
    if (now >= health_deadline) { health_finish(1); now = mono_ms(); }
    else return (int)(health_deadline - now);
  }
  if (now >= health_next) { health_start(); return (int)health_timeout; }
  return (int)(health_next - now);
}

void health_read(void) {
  char buf[4096];
  ssize_t r = read(health_fd, buf, sizeof buf);
  if (r < 0 && errno == EINTR) return;
  if (r <= 0) { health_finish(0); return; }
  size_t room = sizeof health_out - 1 - health_out_len;
  size_t take = (size_t)r < room ? (size_t)r : room; /* Docker keeps the first 4 KiB */
  memcpy(health_out + health_out_len, buf, take);
  health_out_len += take;
}

/* health INTERVAL TIMEOUT START_PERIOD RETRIES STATE_PATH PLAN (times in ms) */
void step_health(char **a, long argc) {
  (void)argc;
  health_interval = num(a[0]);
  health_timeout = num(a[1]);
  health_start_period = num(a[2]);
  health_retries = num(a[3]);
  health_path = a[4];
  health_plan = strdup(a[5]);
  if (health_interval <= 0 || health_timeout <= 0 || health_retries <= 0) fail(EINVAL, "health: interval, timeout and retries must be positive");
}

/* The container's run ended: a check still running goes with it. */
void health_stop(void) {
  if (!health_pid) return;
  kill(health_pid, SIGKILL);
  close(health_fd);
  health_fd = -1;
  while (waitpid(health_pid, NULL, 0) < 0 && errno == EINTR) {}
  health_pid = 0;
}

/*
 * The monitor: the helper's process that stays while the container runs. It
 * clones each run of the container, relays its terminal or logs its output
 * (json-file, with attach clients), keeps the state file, applies the restart
 * policy and runs healthchecks. berth's Node process is gone while a detached
 * container runs, so what must happen then lives here.
 */
#include "helper.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

volatile sig_atomic_t winch = 0;
pid_t child_pid = 0;
pid_t child_pid_target = 0;
int tty_sock[2] = {-1, -1};

static void forward(int sig) {
  if (sig == SIGWINCH) winch = 1;
  if (child_pid > 0) kill(child_pid, sig);
}

int write_all(int fd, const char *b, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, (size_t)n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    b += w; n -= w;
  }
  return 0;
}


const char *log_path = NULL;   /* log-json: containers/<id>/<id>-json.log */
static long log_max_size = 0, log_max_files = 1;
static int log_fd = -1;
static off_t log_size = 0;
static const char *state_path = NULL; /* state-file: the monitor's view of the container, JSON */
static int restart_policy = 0;        /* 0 no, 1 on-failure, 2 always, 3 unless-stopped */
static long restart_max = 0;
static const char *stop_marker = NULL;
static const char *oom_path = NULL;   /* a cgroup file with an "oom_kill N" line */
static const char *exit_umount = NULL;
static char **exit_argv = NULL;
static int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
static long restart_count = 0;
static char started_at[64] = "0001-01-01T00:00:00Z";
static int monitor_signals_set = 0;

/* RFC 3339 with nanoseconds, UTC, always 9 digits (Docker's RFC3339NanoFixed) */
void now_rfc3339(char *buf, size_t n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + l, n - l, ".%09ldZ", ts.tv_nsec);
}

static void write_state(const char *status, int code, int oom) {
  if (!state_path) return;
  char tmp[4200], buf[1024], fin[64] = "0001-01-01T00:00:00Z";
  if (strcmp(status, "running")) now_rfc3339(fin, sizeof fin);
  int n = snprintf(buf, sizeof buf,
    "{\"Status\":\"%s\",\"Pid\":%d,\"MonitorPid\":%d,\"ExitCode\":%d,\"OOMKilled\":%s,\"StartedAt\":\"%s\",\"FinishedAt\":\"%s\",\"RestartCount\":%ld}\n",
    status, strcmp(status, "running") ? 0 : (int)child_pid, (int)getpid(), code, oom ? "true" : "false", started_at, fin, restart_count);
  snprintf(tmp, sizeof tmp, "%s.tmp", state_path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  int ok = write_all(fd, buf, n) == 0;
  close(fd);
  if (ok) rename(tmp, state_path);
}

static long oom_count(void) {
  if (!oom_path) return 0;
  FILE *f = fopen(oom_path, "re");
  if (!f) return 0;
  char line[256];
  long v = 0;
  while (fgets(line, sizeof line, f)) if (!strncmp(line, "oom_kill ", 9)) v = atol(line + 9);
  fclose(f);
  return v;
}

static void log_open(void) {
  log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  struct stat st;
  log_size = log_fd >= 0 && fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

/* --log-opt max-size/max-file: <log>.1 is the newest rotated file; with max-file 1 the log starts over */
static void log_rotate(void) {
  if (log_max_files <= 1) { if (ftruncate(log_fd, 0) == 0) log_size = 0; return; }
  close(log_fd);
  char from[4200], to[4200];
  for (long i = log_max_files - 1; i >= 1; i--) {
    if (i == 1) snprintf(from, sizeof from, "%s", log_path); else snprintf(from, sizeof from, "%s.%ld", log_path, i - 1);
    snprintf(to, sizeof to, "%s.%ld", log_path, i);
    rename(from, to);
  }
  log_open();
}

/* JSON string body as Go escapes it (<, > and & too); bad UTF-8 becomes U+FFFD. out needs n * 6 bytes. Returns the length. */
size_t json_escape(const unsigned char *d, size_t n, char *b) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = d[i];
    if (c == '"' || c == '\\') { b[o++] = '\\'; b[o++] = (char)c; }
    else if (c == '\n') { b[o++] = '\\'; b[o++] = 'n'; }
    else if (c == '\r') { b[o++] = '\\'; b[o++] = 'r'; }
    else if (c == '\t') { b[o++] = '\\'; b[o++] = 't'; }
    else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) o += (size_t)sprintf(b + o, "\\u%04x", c);
    else if (c < 0x80) b[o++] = (char)c;
    else {
      /* validate one UTF-8 sequence */
      size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
      int ok = len > 0 && i + len <= n;
      for (size_t k = 1; ok && k < len; k++) if ((d[i + k] & 0xc0) != 0x80) ok = 0;
      if (ok) { memcpy(b + o, d + i, len); o += len; i += len - 1; }
      else o += (size_t)sprintf(b + o, "\\ufffd");
    }
  }
  return o;
}

/* One json-file record: {"log":"...","stream":"stdout","time":"..."} */
static void log_msg(const char *stream, const unsigned char *d, size_t n) {
  if (log_fd < 0) return;
  size_t cap = n * 6 + 128, o = 0;
  char *b = malloc(cap);
  if (!b) return;
  o += (size_t)sprintf(b, "{\"log\":\"");
  o += json_escape(d, n, b + o);
  char ts[64];
  now_rfc3339(ts, sizeof ts);
  o += (size_t)snprintf(b + o, cap - o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, ts);
  if (write_all(log_fd, b, (ssize_t)o) == 0) log_size += (off_t)o;
  free(b);
  if (log_max_size > 0 && log_size >= log_max_size) log_rotate();
}

#define LINE_MAX_ 16384
struct linebuf { const char *stream; unsigned char buf[LINE_MAX_]; size_t len; };

/* Lines become records; a line longer than 16 KiB is cut into partial records, as Docker's copier does */
static void log_feed(struct linebuf *lb, const unsigned char *d, size_t n) {
  for (size_t i = 0; i < n; i++) {
    lb->buf[lb->len++] = d[i];
    if (d[i] == '\n' || lb->len == LINE_MAX_) { log_msg(lb->stream, lb->buf, lb->len); lb->len = 0; }
  }
}

static void log_flush(struct linebuf *lb) {
  if (lb->len) log_msg(lb->stream, lb->buf, lb->len);
  lb->len = 0;
}

/* ---- attach: clients on a unix socket get the output from then on and may write the container's stdin ---- */

#define MAX_CLIENTS 16
static int attach_listen = -1;
static int clients[MAX_CLIENTS];
static int n_clients = 0;
static int stdin_open = 0;           /* -i: the container's stdin is a pipe from the monitor */
static int in_pipe[2] = {-1, -1};
static int input_fd = -1;            /* where attached input goes: the stdin pipe, or the pty master */
static int tty_mode = 0;

static void drop_client(int i) {
  close(clients[i]);
  clients[i] = clients[--n_clients];
}

/* Output to every attached client: raw with a terminal, else framed as Docker's stdcopy (stream, 0, 0, 0, big-endian length) */
static void broadcast(int stream, const unsigned char *d, size_t n) {
  for (int i = 0; i < n_clients; i++) {
    int ok;
    if (tty_mode) ok = write_all(clients[i], (const char *)d, (ssize_t)n) == 0;
    else {
      unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
      ok = write_all(clients[i], (const char *)h, 8) == 0 && write_all(clients[i], (const char *)d, (ssize_t)n) == 0;
    }
    if (!ok) drop_client(i--);
  }
}

static void close_clients(void) {
  while (n_clients) drop_client(0);
}

/* Detached: copy the container's stdout/stderr (or its pty) into the log and to attached clients until they close */
static void log_streams(int out, int err) {
  static struct linebuf lo = {"stdout", {0}, 0}, le = {"stderr", {0}, 0};
  unsigned char buf[32768];
  int fds[2] = {out, err};
  struct linebuf *lbs[2] = {&lo, &le};
  while (fds[0] >= 0 || fds[1] >= 0) {
    int timeout = health_tick();
    struct pollfd p[4 + MAX_CLIENTS] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {health_fd, POLLIN, 0}, {attach_listen, POLLIN, 0}};
    for (int i = 0; i < n_clients; i++) p[4 + i] = (struct pollfd){clients[i], POLLIN, 0};
    int nc = n_clients;
    if (poll(p, (nfds_t)(4 + nc), timeout) < 0) { if (errno == EINTR) continue; break; }
    if (health_fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) health_read();
    if (attach_listen >= 0 && (p[3].revents & POLLIN)) {
      int c = accept4(attach_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); /* a client that does not read is dropped, never waited for */
      if (c >= 0 && n_clients < MAX_CLIENTS) clients[n_clients++] = c;
      else if (c >= 0) close(c);
    }
    /* clients from the last poll only (the array may have changed since) */
    for (int i = nc - 1; i >= 0; i--) {
      if (!(p[4 + i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int k;
      for (k = 0; k < n_clients && clients[k] != p[4 + i].fd; k++) {}
      if (k == n_clients) continue;
      ssize_t r = read(clients[k], buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) { drop_client(k); continue; }
      if (input_fd >= 0 && write_all(input_fd, (const char *)buf, r) < 0 && !tty_mode) { close(input_fd); input_fd = -1; }
    }
    for (int k = 0; k < 2; k++) {
      if (fds[k] < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = read(fds[k], buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) { log_flush(lbs[k]); close(fds[k]); fds[k] = -1; continue; }
      log_feed(lbs[k], buf, (size_t)r);
      broadcast(k + 1, buf, (size_t)r);
    }
  }
}

static int wait_child(pid_t pid) {
  int st;
  /* a healthcheck to run meanwhile (a foreground container): wait by polling a pidfd */
  int pfd = health_plan ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
  while (pfd >= 0) {
    int timeout = health_tick();
    struct pollfd p[2] = {{pfd, POLLIN, 0}, {health_fd, POLLIN, 0}};
    if (poll(p, 2, timeout) < 0) { if (errno == EINTR) continue; break; }
    if (health_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) health_read();
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) break;
  }
  if (pfd >= 0) close(pfd);
  for (;;) {
    pid_t r = waitpid(pid, &st, 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return 125;
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 125;
}

/* Watch one run of the container: relay its terminal or log its output, then reap it. Returns Docker's exit code. */
static int supervise(pid_t pid) {
  child_pid = pid;
  if (!monitor_signals_set) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    monitor_signals_set = 1;
  }
  if (tty_sock[0] >= 0) {
    close(tty_sock[1]);
    int master = recv_fd(tty_sock[0]);
    close(tty_sock[0]);
    tty_sock[0] = tty_sock[1] = -1;
    /* closing the master hangs up the container's terminal: its session gets SIGHUP, as when a terminal closes */
    if (master >= 0 && log_path) {
      input_fd = master;
      log_streams(dup(master), -1);
      close(master);
      input_fd = -1;
    }
    else if (master >= 0) {
      int hup = relay_tty(master);
      close(master);
      /* the terminal of a foreground container went away: the container ends with it (PID 1 ignores SIGHUP) */
      if (hup) kill(pid, SIGKILL);
    }
  } else if (log_path) {
    log_streams(out_pipe[0], err_pipe[0]);
    out_pipe[0] = err_pipe[0] = -1;
    if (input_fd >= 0) { close(input_fd); input_fd = -1; }
  }
  close_clients(); /* attached clients see EOF: the container's run ended */
  return wait_child(pid);
}

/* Start one run: clone into new namespaces. Returns 0 in the container's process, its pid in the monitor. */
static pid_t spawn_child(int flags, int tty) {
  if (tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tty_sock) < 0) fail(errno, "socketpair");
  if (pipe2(alive_pipe, O_CLOEXEC) < 0) fail(errno, "pipe");
  if (log_path && !tty && (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0)) fail(errno, "pipe");
  if (pipe2(exec_pipe, O_CLOEXEC) < 0) fail(errno, "pipe");
  if (log_path && stdin_open && !tty && pipe2(in_pipe, O_CLOEXEC) < 0) fail(errno, "pipe");
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, NULL, NULL, 0);
  if (pid < 0) fail(errno, "clone");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* the container dies with its monitor */
    signal(SIGPIPE, SIG_DFL); /* the monitor ignores it; an ignored signal would stay ignored across exec */
    close(alive_pipe[1]);
    close(exec_pipe[0]);
    if (tty_sock[0] >= 0) close(tty_sock[0]);
    if (log_path && in_pipe[0] >= 0) {
      if (dup2(in_pipe[0], 0) < 0) fail(errno, "dup2");
      close(in_pipe[0]);
      close(in_pipe[1]);
    } else if (log_path) {
      int null = open("/dev/null", O_RDONLY);
      if (null < 0 || dup2(null, 0) < 0) fail(errno, "/dev/null");
      if (null > 2) close(null);
    }
    if (log_path) {
      if (!tty && (dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0)) fail(errno, "dup2");
      if (!tty) { close(out_pipe[0]); close(err_pipe[0]); close(out_pipe[1]); close(err_pipe[1]); }
    }
    return 0;
  }
  close(alive_pipe[0]);
  close(exec_pipe[1]);
  exec_pipe[1] = -1;
  signal(SIGPIPE, SIG_IGN); /* a client or stdin gone away is an error to handle, not a reason to die */
  if (log_path && !tty) { close(out_pipe[1]); close(err_pipe[1]); }
  if (in_pipe[0] >= 0) { close(in_pipe[0]); in_pipe[0] = -1; input_fd = in_pipe[1]; in_pipe[1] = -1; }
  tty_mode = tty;
  child_pid = pid;
  now_rfc3339(started_at, sizeof started_at);
  if (status_fd >= 0) {
    char buf[64];
    int n = snprintf(buf, sizeof buf, "pid %d\n", (int)pid);
    ssize_t w = write(status_fd, buf, (size_t)n); (void)w;
    close(status_fd); /* only the container process holds it now: EOF at its exec */
    status_fd = -1;
  }
  write_state("running", 0, 0);
  return pid;
}

/* The container is done for good: final state, unmount, then berth's clean-up command if the plan names one. */
static void finish(int code, int oom) {
  write_state("exited", code, oom);
  if (exit_umount) umount2(exit_umount, MNT_DETACH);
  if (exit_argv) {
    /* the run lock and every other fd closed first: the clean-up takes the lock itself */
    syscall(SYS_close_range, 3, ~0U, 0);
    execv(exit_argv[0], exit_argv);
  }
  _exit(code);
}

static int should_restart(int code) {
  if (restart_policy == 0) return 0;
  if (stop_marker && access(stop_marker, F_OK) == 0) return 0; /* stopped by the user: never restarted */
  if (restart_policy == 1) return code != 0 && (restart_max == 0 || restart_count < restart_max);
  return 1;
}

/*
 * spawn FLAGS [tty]: the monitor's life. Each run clones a process into new
 * namespaces that carries on with the rest of the plan (in its own copy of
 * this address space: the plan text after this step is still unparsed here,
 * so a restart simply clones again). Between runs: state file and restart policy.
 */
static void step_spawn(char **a, long argc) {
  plan_read_all();
  int flags = (int)num(a[0]);
  int tty = argc > 1 && !strcmp(a[1], "tty");
  if (log_path) log_open();
  long backoff_ms = 100;
  for (;;) {
    long oom_before = oom_count();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (spawn_child(flags, tty) == 0) return;
    event_emit("start", NULL); /* each run, so that it comes before the run's die (a restart by policy: die, start) */
    health_reset();
    int code = supervise(child_pid);
    health_stop();
    int oom = oom_count() > oom_before;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char extra[96];
    snprintf(extra, sizeof extra, "\"execDuration\":\"%ld\",\"exitCode\":\"%d\"", (long)(t1.tv_sec - t0.tv_sec), code);
    event_emit("die", extra);
    char e;
    int failed_start = read(exec_pipe[0], &e, 1) == 1; /* never restart what could not start */
    close(exec_pipe[0]);
    if (failed_start) finish(code, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!should_restart(code)) finish(code, oom);
    write_state("restarting", code, oom);
    /* Docker's back-off: 100 ms doubling up to a minute, reset after a run of 10 s or more */
    if (t1.tv_sec - t0.tv_sec >= 10) backoff_ms = 100;
    struct timespec d = {backoff_ms / 1000, (backoff_ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) < 0 && errno == EINTR) { if (stop_marker && access(stop_marker, F_OK) == 0) break; }
    if (!should_restart(code)) finish(code, oom); /* stopped during the back-off */
    backoff_ms = backoff_ms * 2 > 60000 ? 60000 : backoff_ms * 2;
    restart_count++;
  }
}

/* --init: PID 1 becomes a reaper that forwards signals to the command and exits with its status (as tini) */
static void step_init(char **a, long argc) {
  (void)a;
  (void)argc;
  pid_t pid = fork();
  if (pid < 0) fail(errno, "fork");
  if (pid == 0) return;
  if (status_fd >= 0) close(status_fd); /* the command reports its exec */
  child_pid = pid;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  for (int sig = 1; sig < NSIG; sig++) if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, NULL);
  for (;;) {
    int st;
    pid_t r = waitpid(-1, &st, 0);
    if (r < 0) { if (errno == EINTR) continue; _exit(125); }
    if (r != pid) continue; /* an orphan reaped */
    if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) _exit(128 + WTERMSIG(st));
  }
}

/* fork: the parent only watches this one process (exec in a running container) */
static void become_monitor(pid_t pid) {
  if (status_fd >= 0) {
    char buf[64];
    int n = snprintf(buf, sizeof buf, "pid %d\n", (int)pid);
    ssize_t w = write(status_fd, buf, (size_t)n); (void)w;
    close(status_fd); /* only the process holds it now: EOF at its exec */
    status_fd = -1;
  }
  _exit(supervise(pid));
}

/* fork [tty]: with "tty", the monitor relays the terminal the container sends back */
static void step_fork(char **a, long argc) {
  if (argc == 1 && !strcmp(a[0], "tty") && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tty_sock) < 0) fail(errno, "socketpair");
  if (pipe2(alive_pipe, O_CLOEXEC) < 0) fail(errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) fail(errno, "fork");
  if (pid > 0) close(alive_pipe[0]);
  if (pid > 0) become_monitor(pid);
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* the container dies with its monitor */
  close(alive_pipe[1]);
  if (tty_sock[0] >= 0) close(tty_sock[0]);
}

static void step_log_json(char **a, long argc) {
  (void)argc;
  log_path = a[0];
  log_max_size = num(a[1]);
  log_max_files = num(a[2]);
}

static void step_state_file(char **a, long argc) {
  (void)argc;
  state_path = a[0];
}

static void step_restart_policy(char **a, long argc) {
  (void)argc;
  static const char *const names[] = {"no", "on-failure", "always", "unless-stopped"};
  restart_policy = -1;
  for (int i = 0; i < 4; i++) if (!strcmp(a[0], names[i])) restart_policy = i;
  if (restart_policy < 0) fail(EINVAL, a[0]);
  restart_max = num(a[1]);
  stop_marker = a[2];
}

static void step_oom_counter(char **a, long argc) {
  (void)argc;
  oom_path = a[0];
}

static void step_exit_umount(char **a, long argc) {
  (void)argc;
  exit_umount = a[0];
}

/* the step's argument array outlives the step: a copy of it */
static void step_exit_command(char **a, long argc) {
  exit_argv = calloc((size_t)argc + 1, sizeof *exit_argv);
  if (!exit_argv) fail(ENOMEM, "exit-command");
  memcpy(exit_argv, a, (size_t)argc * sizeof *a);
}

/* attach-socket DIR: listen on DIR/attach.sock (bound from inside DIR: socket paths are short) */
static void step_attach_socket(char **a, long argc) {
  (void)argc;
  attach_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (attach_listen < 0) fail(errno, "socket");
  int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || chdir(a[0]) < 0) fail(errno, a[0]);
  unlink("attach.sock");
  struct sockaddr_un sun = {0};
  sun.sun_family = AF_UNIX;
  strcpy(sun.sun_path, "attach.sock");
  if (bind(attach_listen, (struct sockaddr *)&sun, sizeof sun) < 0) fail(errno, "attach.sock");
  chmod("attach.sock", 0600);
  if (listen(attach_listen, 8) < 0) fail(errno, "listen");
  if (fchdir(cwd) < 0) fail(errno, "fchdir");
  close(cwd);
}

static void step_stdin_open(char **a, long argc) {
  (void)a;
  (void)argc;
  stdin_open = 1;
}

const struct step monitor_steps[] = {
  {"fork", -1, -1, NULL, step_fork},
  {"init", 0, 0, NULL, step_init},
  {"spawn", 1, 2, "spawn FLAGS [tty]", step_spawn},
  {"log-json", 3, 3, NULL, step_log_json},
  {"state-file", 1, 1, NULL, step_state_file},
  {"restart-policy", 3, 3, NULL, step_restart_policy},
  {"oom-counter", 1, 1, NULL, step_oom_counter},
  {"exit-umount", 1, 1, NULL, step_exit_umount},
  {"exit-command", 1, -1, "exit-command needs a program", step_exit_command},
  {"attach-socket", 1, 1, NULL, step_attach_socket},
  {"stdin-open", 0, 0, NULL, step_stdin_open},
  {"health", 6, 6, NULL, step_health},
};
const size_t n_monitor_steps = sizeof monitor_steps / sizeof monitor_steps[0];

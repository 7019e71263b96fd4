/*
 * berth-helper: executes a container plan that berth (TypeScript) wrote, and
 * stays as the container's monitor. It makes no decisions: every path, flag,
 * id and argument comes from the plan. On failure it reports which step failed
 * and the errno on the status fd, then exits 125 (126/127 when exec fails with
 * EACCES/ENOENT, as Docker reports them).
 *
 * Bind mounts: the source tree is cloned (open_tree) before pivot_root and
 * attached (move_mount) after it, so every target path resolves inside the
 * container's root and a symlink in the image cannot aim a mount at the host.
 *
 * fd 3: the plan, a sequence of records; each record is netstrings
 *       "op", "argc", then argc arguments ("5:mount,1:5,..."). Read to EOF.
 * fd 4: status (optional): "pid <n>\n" from the monitor after fork, or
 *       "error <step> <op> <ERRNO> <detail>\n" from the failing process.
 *       Close-on-exec in the container process: EOF means exec succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/uio.h>
#include <poll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PLAN_FD 3
#define STATUS_FD 4
#define MAX_FDS 64
#define MAX_PLAN (16 << 20)

static int status_fd = -1;
static int exec_pipe[2] = {-1, -1}; /* a byte from the container's process: it failed before exec */
static int step_no = 0;
static const char *step_op = "start";
static int opened[MAX_FDS];
static int n_opened = 0;
static char **envp_acc = NULL;
static size_t n_env = 0;
static pid_t child_pid = 0;
static pid_t child_pid_target = 0; /* in a health check: the container process whose namespaces it joins */
static int alive_pipe[2] = {-1, -1}; /* the container sees EOF on [0] once its monitor is gone */
static int tty_sock[2] = {-1, -1}; /* the container sends its pty master to the monitor */
static volatile sig_atomic_t winch = 0;

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

static void fail(int err, const char *detail) {
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
static char *plan;
static size_t plan_len, plan_pos;
static int plan_eof = 0;

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
static void plan_read_all(void) {
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

static long num(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s) fail(EINVAL, s);
  return v;
}

static void plan_init(void) {
  plan = mmap(NULL, MAX_PLAN + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (plan == MAP_FAILED) fail(ENOMEM, "plan");
}

/* ---- the monitor ---- */

static void forward(int sig) {
  if (sig == SIGWINCH) winch = 1;
  if (child_pid > 0) kill(child_pid, sig);
}

/* ---- terminal: the container's pty lives in its own devpts; the monitor relays it ---- */

static int recv_fd(int sock) {
  char dummy;
  struct iovec iov = {&dummy, 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static void send_fd(int sock, int fd) {
  char dummy = 0;
  struct iovec iov = {&dummy, 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(sock, &msg, 0) < 0) fail(errno, "send pty");
}

static void copy_winsize(int from, int to) {
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

static int write_all(int fd, const char *b, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, (size_t)n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    b += w; n -= w;
  }
  return 0;
}

/*
 * Relay between our stdio (the user's terminal, in raw mode) and the pty master
 * until the container closes it. Returns 1 when the user's side hung up.
 */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* healthchecks (below) also run while a foreground container is relayed or waited for */
static int health_fd;
static int health_tick(void);
static void health_read(void);

static int relay_tty(int master) {
  int hangup = 0;
  struct termios saved;
  int raw = isatty(0) && tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
  }
  int wsrc = isatty(0) ? 0 : 1; /* -t without -i: the size comes from stdout's terminal */
  copy_winsize(wsrc, master);
  int in_open = 1;
  char buf[32768];
  for (;;) {
    if (winch) { winch = 0; copy_winsize(wsrc, master); }
    int timeout = health_tick();
    struct pollfd p[3] = {{master, POLLIN, 0}, {health_fd, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}};
    int n = poll(p, 3, timeout);
    if (n < 0) { if (errno == EINTR) continue; break; }
    if (health_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) health_read();
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r <= 0) { if (r < 0 && errno == EINTR) continue; break; } /* EIO: the container side is closed */
      if (write_all(1, buf, r) < 0) { hangup = 1; break; }
    }
    if (in_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      /* the user's terminal is gone: EIO, or EOF on a raw terminal (where ^D is just a byte) */
      if ((r < 0 && errno == EIO) || (r == 0 && raw)) { hangup = 1; break; }
      if (r <= 0) { in_open = 0; continue; }
      if (write_all(master, buf, r) < 0) in_open = 0;
    }
  }
  if (raw) tcsetattr(0, TCSANOW, &saved);
  return hangup;
}

/* In the container, after /dev/pts is mounted: a pty of its own devpts becomes the controlling terminal and stdio. */
static void op_pty(int console) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(errno, "/dev/ptmx");
  if (grantpt(master) < 0 || unlockpt(master) < 0) fail(errno, "unlockpt");
  char name[128];
  if (ptsname_r(master, name, sizeof name) != 0) fail(errno, "ptsname");
  int slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) fail(errno, name);
  if (tty_sock[1] < 0) fail(EINVAL, "pty without a terminal monitor");
  send_fd(tty_sock[1], master);
  close(master);
  close(tty_sock[1]);
  if (setsid() < 0) fail(errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0) fail(errno, "TIOCSCTTY");
  for (int fd = 0; fd < 3; fd++) if (dup2(slave, fd) < 0) fail(errno, "dup2");
  if (!console) { if (slave > 2) close(slave); return; }
  /* /dev/console is the container's terminal, as runc sets it up */
  int c = open("/dev/console", O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (c >= 0) close(c);
  if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0) fail(errno, "/dev/console");
  if (slave > 2) close(slave);
}

/* ---- detached monitor: json-file logs, state file, restart policy ---- */

static const char *log_path = NULL;   /* log-json: containers/<id>/<id>-json.log */
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
static void now_rfc3339(char *buf, size_t n) {
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

/* One json-file record: {"log":"...","stream":"stdout","time":"..."}; JSON-escaped as Go does (<>& too), bad UTF-8 as U+FFFD */
/* JSON string body as Go escapes it (<, > and & too); bad UTF-8 becomes U+FFFD. out needs n * 6 bytes. Returns the length. */
static size_t json_escape(const unsigned char *d, size_t n, char *b) {
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

/* ---- healthchecks: the monitor runs a sub-plan (an exec into the container) on a timer ---- */

static char *health_plan = NULL;      /* the encoded exec plan of the check */
static long health_interval = 0, health_timeout = 0, health_start_period = 0, health_retries = 0; /* ms; retries */
static const char *health_path = NULL;
static pid_t health_pid = 0;
static int health_fd = -1;
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
static void health_reset(void) {
  if (!health_plan) return;
  health_status = "starting";
  health_streak = 0;
  run_started = mono_ms();
  health_next = run_started + health_interval;
  health_write();
}

/* H: a child of the monitor that runs the check's plan with its output on a pipe */
static void run_steps(void);
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
  if (code == 0) { health_status = "healthy"; health_streak = 0; }
  else if (mono_ms() - run_started >= health_start_period || !strcmp(health_status, "healthy")) {
    /* failures in the start period do not count (unless the container was healthy already) */
    if (++health_streak >= health_retries) health_status = "unhealthy";
  }
  health_write();
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
static int health_tick(void) {
  if (!health_plan) return -1;
  long long now = mono_ms();
  if (health_pid) {
    if (now >= health_deadline) { health_finish(1); now = mono_ms(); }
    else return (int)(health_deadline - now);
  }
  if (now >= health_next) { health_start(); return (int)health_timeout; }
  return (int)(health_next - now);
}

static void health_read(void) {
  char buf[4096];
  ssize_t r = read(health_fd, buf, sizeof buf);
  if (r < 0 && errno == EINTR) return;
  if (r <= 0) { health_finish(0); return; }
  size_t room = sizeof health_out - 1 - health_out_len;
  size_t take = (size_t)r < room ? (size_t)r : room; /* Docker keeps the first 4 KiB */
  memcpy(health_out + health_out_len, buf, take);
  health_out_len += take;
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

/* Detached: copy the container's stdout/stderr (or its pty) into the log until they close */
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
static void op_spawn(char **a, long argc) {
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
    health_reset();
    int code = supervise(child_pid);
    if (health_pid) { kill(health_pid, SIGKILL); close(health_fd); health_fd = -1; while (waitpid(health_pid, NULL, 0) < 0 && errno == EINTR) {} health_pid = 0; }
    int oom = oom_count() > oom_before;
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
static void op_init(void) {
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

/* ---- operations ---- */

static void refuse_symlink(const char *path) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) { errno = ELOOP; fail(ELOOP, path); }
}

static void op_mount(char **a) {
  refuse_symlink(a[1]);
  if (mount(a[0][0] ? a[0] : NULL, a[1], a[2][0] ? a[2] : NULL, (unsigned long)num(a[3]), a[4][0] ? a[4] : NULL) < 0) fail(errno, a[1]);
}

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#define OPEN_TREE_CLONE_ 1
#define OPEN_TREE_CLOEXEC_ O_CLOEXEC
#define AT_RECURSIVE_ 0x8000
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x00000004

/* A detached copy of the mount tree at a host path, taken while the host is visible. */
static void op_clone_tree(char **a) {
  if (n_opened >= MAX_FDS) fail(EMFILE, a[0]);
  int rec = num(a[1]) != 0;
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, a[0], OPEN_TREE_CLONE_ | OPEN_TREE_CLOEXEC_ | (rec ? AT_RECURSIVE_ : 0));
  if (fd < 0) fail(errno, a[0]);
  opened[n_opened++] = fd;
}

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
struct berth_mount_attr { unsigned long long attr_set, attr_clr, propagation, userns_fd; };
#define MOUNT_ATTR_RDONLY_ 0x00000001
#define AT_EMPTY_PATH_ 0x1000

/* Attach a cloned tree at a path inside the container (never through a final symlink). */
static void op_attach_tree(char **a) {
  long i = num(a[0]);
  if (i < 0 || i >= n_opened) fail(EBADF, a[0]);
  refuse_symlink(a[1]);
  unsigned long flags = (unsigned long)num(a[2]);
  /* read-only for the whole cloned tree (a plain remount covers only its top: /sys/fs/cgroup would stay writable) */
  if (flags & MS_RDONLY) {
    struct berth_mount_attr attr = {MOUNT_ATTR_RDONLY_, 0, 0, 0};
    if (syscall(SYS_mount_setattr, opened[i], "", AT_EMPTY_PATH_ | AT_RECURSIVE_, &attr, sizeof attr) < 0) fail(errno, a[1]);
  }
  if (syscall(SYS_move_mount, opened[i], "", AT_FDCWD, a[1], MOVE_MOUNT_F_EMPTY_PATH_) < 0) fail(errno, a[1]);
  if ((flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) && mount(NULL, a[1], NULL, MS_REMOUNT | MS_BIND | (flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)), NULL) < 0) fail(errno, a[1]);
}

/* Make a path unreadable (Docker's masked paths): a read-only empty tmpfs over a directory, /dev/null over anything else. */
static void op_mask(const char *p) {
  struct stat st;
  if (lstat(p, &st) < 0) { if (errno == ENOENT) return; fail(errno, p); }
  if (S_ISLNK(st.st_mode)) return;
  if (S_ISDIR(st.st_mode)) { if (mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0") < 0) fail(errno, p); }
  else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) fail(errno, p);
}

/* Make a path read-only in place (Docker's read-only paths). */
static void op_readonly(const char *p) {
  struct stat st;
  if (lstat(p, &st) < 0) { if (errno == ENOENT) return; fail(errno, p); }
  if (S_ISLNK(st.st_mode)) return;
  if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) fail(errno, p);
  if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) fail(errno, p);
}

static void op_capset(char **a) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  unsigned long long m[3];
  for (int i = 0; i < 3; i++) {
    char *end;
    errno = 0;
    m[i] = strtoull(a[i], &end, 16);
    if (errno || *end) fail(EINVAL, a[i]);
  }
  for (int w = 0; w < 2; w++) {
    d[w].effective = (uint32_t)(m[0] >> (32 * w));
    d[w].permitted = (uint32_t)(m[1] >> (32 * w));
    d[w].inheritable = (uint32_t)(m[2] >> (32 * w));
  }
  if (syscall(SYS_capset, &h, d) < 0) fail(errno, "capset");
}

/* Install a seccomp filter: the argument is the BPF program (struct sock_filter[]) in hex, compiled by berth. */
static void op_seccomp(const char *hex) {
  size_t n = strlen(hex);
  if (n == 0 || n % 16) fail(EINVAL, "seccomp: program length");
  size_t count = n / 16;
  if (count > 65535) fail(E2BIG, "seccomp: program too long");
  unsigned char *bytes = malloc(n / 2);
  if (!bytes) fail(ENOMEM, "seccomp");
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) fail(EINVAL, "seccomp: hex");
    bytes[i] = (unsigned char)v;
  }
  struct sock_fprog prog = {(unsigned short)count, (struct sock_filter *)bytes};
  /* TSYNC is not needed: the helper is single-threaded */
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) fail(errno, "seccomp");
}

/* Move this process into a cgroup: "0" written to a cgroup.procs file moves the writer (v1 and v2). */
static void op_join_cgroup(const char *procs) {
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, procs);
  if (write(fd, "0", 1) != 1) fail(errno, procs);
  close(fd);
}

static void op_loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(errno, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(errno, "lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(errno, "lo");
  close(s);
}

static void op_exec(char **a, long argc) {
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (!argv) fail(ENOMEM, "argv");
  for (long i = 0; i < argc; i++) argv[i] = a[i];
  char **envp = realloc(envp_acc, (n_env + 1) * sizeof *envp);
  if (!envp) fail(ENOMEM, "env");
  envp[n_env] = NULL;
  /* only fds 0-2 survive into the container's process */
  if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) {
    for (int fd = 3; fd < 1024; fd++) if (fd != status_fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  /* PATH lookup as the container's environment says, but never via /bin/sh on ENOEXEC (as runc) */
  if (strchr(a[0], '/')) { execve(a[0], argv, envp); fail(errno, a[0]); }
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (size_t i = 0; i < n_env; i++) if (!strncmp(envp[i], "PATH=", 5)) path = envp[i] + 5;
  int saw_eacces = 0;
  char full[4096];
  for (const char *p = path;; ) {
    const char *end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0) snprintf(full, sizeof full, "%s", a[0]);
    else snprintf(full, sizeof full, "%.*s/%s", (int)len, p, a[0]);
    execve(full, argv, envp);
    if (errno == EACCES) saw_eacces = 1;
    else if (errno != ENOENT && errno != ENOTDIR) fail(errno, a[0]);
    if (!end) break;
    p = end + 1;
  }
  fail(saw_eacces ? EACCES : ENOENT, a[0]);
}

static pid_t parent_pid;

/* Execute the plan's steps from plan_pos on (the whole plan, or a health check's). Returns only if the plan ends without exec. */
static void run_steps(void) {
  pid_t parent = parent_pid;
  while (plan_need(1)) {
    step_no++;
    char *op = next_str();
    step_op = op;
    long argc = num(next_str());
    if (argc < 0 || argc > 100000) fail(EINVAL, "argc");
    char **a = calloc((size_t)argc + 1, sizeof *a);
    if (!a) fail(ENOMEM, "args");
    for (long i = 0; i < argc; i++) a[i] = next_str();
#define NEED(n) do { if (argc != (n)) fail(EINVAL, "wrong number of arguments"); } while (0)
    if (!strcmp(op, "die-with-parent")) {
      /* foreground containers: if berth dies, the monitor and so the container die too */
      NEED(0);
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(errno, "prctl");
      if (getppid() != parent) _exit(137);
    }
    else if (!strcmp(op, "unshare")) { NEED(1); if (unshare((int)num(a[0])) < 0) fail(errno, a[0]); }
    else if (!strcmp(op, "fork")) {
      /* fork [tty]: with "tty", the monitor relays the terminal the container sends back */
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
    else if (!strcmp(op, "init")) { NEED(0); op_init(); }
    else if (!strcmp(op, "spawn")) { if (argc < 1 || argc > 2) fail(EINVAL, "spawn FLAGS [tty]"); op_spawn(a, argc); }
    else if (!strcmp(op, "log-json")) { NEED(3); log_path = a[0]; log_max_size = num(a[1]); log_max_files = num(a[2]); }
    else if (!strcmp(op, "state-file")) { NEED(1); state_path = a[0]; }
    else if (!strcmp(op, "restart-policy")) {
      NEED(3);
      restart_policy = !strcmp(a[0], "on-failure") ? 1 : !strcmp(a[0], "always") ? 2 : !strcmp(a[0], "unless-stopped") ? 3 : !strcmp(a[0], "no") ? 0 : (fail(EINVAL, a[0]), 0);
      restart_max = num(a[1]);
      stop_marker = a[2];
    }
    else if (!strcmp(op, "oom-counter")) { NEED(1); oom_path = a[0]; }
    else if (!strcmp(op, "exit-umount")) { NEED(1); exit_umount = a[0]; }
    else if (!strcmp(op, "exit-command")) { if (argc < 1) fail(EINVAL, "exit-command needs a program"); exit_argv = a; a = NULL; }
    else if (!strcmp(op, "attach-socket")) {
      /* attach-socket DIR: listen on DIR/attach.sock (bound from inside DIR: socket paths are short) */
      NEED(1);
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
    else if (!strcmp(op, "stdin-open")) { NEED(0); stdin_open = 1; }
    else if (!strcmp(op, "setns-target")) {
      /* setns-target NS: the namespace of the container process this monitor watches (health checks) */
      NEED(1);
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)child_pid_target, a[0]);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) fail(errno, path);
      if (setns(fd, 0) < 0) fail(errno, path);
      close(fd);
    }
    else if (!strcmp(op, "health")) {
      /* health INTERVAL TIMEOUT START_PERIOD RETRIES STATE_PATH PLAN (times in ms) */
      NEED(6);
      health_interval = num(a[0]); health_timeout = num(a[1]); health_start_period = num(a[2]); health_retries = num(a[3]);
      health_path = a[4]; health_plan = strdup(a[5]);
      if (health_interval <= 0 || health_timeout <= 0 || health_retries <= 0) fail(EINVAL, "health: interval, timeout and retries must be positive");
    }
    else if (!strcmp(op, "setns")) {
      NEED(1);
      int fd = open(a[0], O_RDONLY | O_CLOEXEC);
      if (fd < 0) fail(errno, a[0]);
      if (setns(fd, 0) < 0) fail(errno, a[0]);
      close(fd);
    }
    else if (!strcmp(op, "mount")) { NEED(5); op_mount(a); }
    else if (!strcmp(op, "pty")) { if (argc > 1) fail(EINVAL, "pty [noconsole]"); op_pty(argc == 0); }
    else if (!strcmp(op, "mask")) { NEED(1); op_mask(a[0]); }
    else if (!strcmp(op, "readonly")) { NEED(1); op_readonly(a[0]); }
    else if (!strcmp(op, "drop-bounding")) {
      for (long i = 0; i < argc; i++) if (prctl(PR_CAPBSET_DROP, num(a[i]), 0, 0, 0) < 0 && errno != EINVAL) fail(errno, a[i]);
    }
    else if (!strcmp(op, "capset")) { NEED(3); op_capset(a); }
    else if (!strcmp(op, "clone-tree")) { NEED(2); op_clone_tree(a); }
    else if (!strcmp(op, "attach-tree")) { NEED(3); op_attach_tree(a); }
    else if (!strcmp(op, "mkdir")) { NEED(2); if (mkdir(a[0], (mode_t)num(a[1])) < 0 && errno != EEXIST) fail(errno, a[0]); refuse_symlink(a[0]); }
    else if (!strcmp(op, "touch")) {
      NEED(2);
      /* read-only: opening an existing lower file for writing would copy it up into the rw layer */
      int fd = open(a[0], O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, (mode_t)num(a[1]));
      if (fd < 0 && errno != EISDIR) fail(errno, a[0]);
      if (fd >= 0) close(fd);
    }
    else if (!strcmp(op, "mknod")) { NEED(4); if (mknod(a[0], (mode_t)num(a[1]), makedev(num(a[2]), num(a[3]))) < 0) fail(errno, a[0]); }
    else if (!strcmp(op, "chown")) { NEED(3); if (lchown(a[0], (uid_t)num(a[1]), (gid_t)num(a[2])) < 0) fail(errno, a[0]); }
    else if (!strcmp(op, "chmod")) { NEED(2); refuse_symlink(a[0]); if (chmod(a[0], (mode_t)num(a[1])) < 0) fail(errno, a[0]); }
    else if (!strcmp(op, "symlink")) { NEED(2); if (symlink(a[0], a[1]) < 0 && errno != EEXIST) fail(errno, a[1]); }
    else if (!strcmp(op, "chdir")) { NEED(1); if (chdir(a[0]) < 0) fail(errno, a[0]); }
    else if (!strcmp(op, "pivot-root")) {
      NEED(1);
      if (chdir(a[0]) < 0) fail(errno, a[0]);
      if (syscall(SYS_pivot_root, ".", ".") < 0) fail(errno, a[0]);
      if (umount2(".", MNT_DETACH) < 0) fail(errno, "old root");
      if (chdir("/") < 0) fail(errno, "/");
    }
    else if (!strcmp(op, "hostname")) { NEED(1); if (sethostname(a[0], strlen(a[0])) < 0) fail(errno, a[0]); }
    else if (!strcmp(op, "loopback-up")) { NEED(0); op_loopback_up(); }
    else if (!strcmp(op, "rlimit")) {
      NEED(3);
      struct rlimit rl = {(rlim_t)num(a[1]), (rlim_t)num(a[2])};
      if (setrlimit((int)num(a[0]), &rl) < 0) fail(errno, a[0]);
    }
    else if (!strcmp(op, "groups")) {
      gid_t *g = calloc((size_t)argc + 1, sizeof *g);
      for (long i = 0; i < argc; i++) g[i] = (gid_t)num(a[i]);
      if (setgroups((size_t)argc, g) < 0) fail(errno, "setgroups");
    }
    else if (!strcmp(op, "gid")) { NEED(1); if (setresgid((gid_t)num(a[0]), (gid_t)num(a[0]), (gid_t)num(a[0])) < 0) fail(errno, a[0]); }
    else if (!strcmp(op, "uid")) {
      NEED(1);
      if (setresuid((uid_t)num(a[0]), (uid_t)num(a[0]), (uid_t)num(a[0])) < 0) fail(errno, a[0]);
      /* a credential change clears the death signal: set it again, and check the monitor is still there */
      if (alive_pipe[0] >= 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(errno, "prctl");
        /* getppid() is 0 in a new PID namespace: the pipe tells whether the monitor died meanwhile */
        struct pollfd pf = {alive_pipe[0], POLLIN, 0};
        if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLIN))) _exit(137);
      }
    }
    else if (!strcmp(op, "seccomp")) { NEED(1); op_seccomp(a[0]); }
    else if (!strcmp(op, "join-cgroup")) { for (long i = 0; i < argc; i++) op_join_cgroup(a[i]); }
    else if (!strcmp(op, "no-new-privs")) { NEED(0); if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(errno, "prctl"); }
    else if (!strcmp(op, "env")) {
      NEED(1);
      char **e = realloc(envp_acc, (n_env + 2) * sizeof *e);
      if (!e) fail(ENOMEM, "env");
      envp_acc = e;
      envp_acc[n_env++] = a[0];
    }
    else if (!strcmp(op, "exec")) { if (argc < 1) fail(EINVAL, "exec needs a program"); op_exec(a, argc); }
    else fail(EINVAL, op);
    free(a);
  }
}

int main(void) {
  if (fcntl(STATUS_FD, F_GETFD) >= 0) {
    status_fd = STATUS_FD;
    fcntl(status_fd, F_SETFD, FD_CLOEXEC);
  }
  parent_pid = getppid();
  plan_init();
  run_steps();
  fail(EINVAL, "plan ended without exec");
}

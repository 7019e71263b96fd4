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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
#include <unistd.h>

#define PLAN_FD 3
#define STATUS_FD 4
#define MAX_FDS 64
#define MAX_PLAN (16 << 20)

static int status_fd = -1;
static int step_no = 0;
static const char *step_op = "start";
static int opened[MAX_FDS];
static int n_opened = 0;
static char **envp_acc = NULL;
static size_t n_env = 0;
static pid_t child_pid = 0;
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
  _exit(strcmp(step_op, "exec") == 0 ? (err == ENOENT ? 127 : 126) : 125);
}

/* ---- plan parsing ---- */

static char *plan;
static size_t plan_len, plan_pos;

static char *next_str(void) {
  size_t len = 0, digits = 0;
  while (plan_pos < plan_len && plan[plan_pos] >= '0' && plan[plan_pos] <= '9') {
    len = len * 10 + (size_t)(plan[plan_pos++] - '0');
    if (++digits > 8) fail(EINVAL, "plan: netstring length");
  }
  if (digits == 0 || plan_pos >= plan_len || plan[plan_pos] != ':') fail(EINVAL, "plan: malformed netstring");
  plan_pos++;
  if (len > plan_len - plan_pos || plan[plan_pos + len] != ',') fail(EINVAL, "plan: truncated netstring");
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

static void read_plan(void) {
  size_t cap = 65536;
  plan = malloc(cap);
  if (!plan) fail(ENOMEM, "plan");
  for (;;) {
    if (plan_len + 1 >= cap) {
      if (cap >= MAX_PLAN) fail(E2BIG, "plan too large");
      cap *= 2;
      plan = realloc(plan, cap);
      if (!plan) fail(ENOMEM, "plan");
    }
    ssize_t n = read(PLAN_FD, plan + plan_len, cap - plan_len - 1);
    if (n < 0) { if (errno == EINTR) continue; fail(errno, "read plan"); }
    if (n == 0) break;
    plan_len += (size_t)n;
  }
  close(PLAN_FD);
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
    struct pollfd p[2] = {{master, POLLIN, 0}, {0, POLLIN, 0}};
    int n = poll(p, in_open ? 2 : 1, -1);
    if (n < 0) { if (errno == EINTR) continue; break; }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r <= 0) { if (r < 0 && errno == EINTR) continue; break; } /* EIO: the container side is closed */
      if (write_all(1, buf, r) < 0) { hangup = 1; break; }
    }
    if (in_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
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
static void op_pty(void) {
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
  /* /dev/console is the container's terminal, as runc sets it up */
  int c = open("/dev/console", O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (c >= 0) close(c);
  if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0) fail(errno, "/dev/console");
  if (slave > 2) close(slave);
}

static void become_monitor(pid_t pid) {
  child_pid = pid;
  if (status_fd >= 0) {
    char buf[64];
    int n = snprintf(buf, sizeof buf, "pid %d\n", (int)pid);
    ssize_t w = write(status_fd, buf, (size_t)n); (void)w;
    close(status_fd); /* only the container process holds it now: EOF at its exec */
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  if (tty_sock[0] >= 0) {
    close(tty_sock[1]);
    int master = recv_fd(tty_sock[0]);
    close(tty_sock[0]);
    /* closing the master hangs up the container's terminal: its session gets SIGHUP, as when a terminal closes */
    if (master >= 0) {
      int hup = relay_tty(master);
      close(master);
      /* the terminal of a foreground container went away: the container ends with it (PID 1 ignores SIGHUP) */
      if (hup) kill(pid, SIGKILL);
    }
  }
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) _exit(125);
  }
  if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) _exit(128 + WTERMSIG(st));
  _exit(125);
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

int main(void) {
  if (fcntl(STATUS_FD, F_GETFD) >= 0) {
    status_fd = STATUS_FD;
    fcntl(status_fd, F_SETFD, FD_CLOEXEC);
  }
  pid_t parent = getppid();
  read_plan();
  while (plan_pos < plan_len) {
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
    else if (!strcmp(op, "mount")) { NEED(5); op_mount(a); }
    else if (!strcmp(op, "pty")) { NEED(0); op_pty(); }
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
  fail(EINVAL, "plan ended without exec");
}

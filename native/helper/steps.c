/*
 * The container set-up steps: each does one syscall (or a few) with the values
 * the plan gives it, and reports a failure with the step and errno (fail).
 */
#include "helper.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
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
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

int alive_pipe[2] = {-1, -1};
static int opened[MAX_FDS];
static int n_opened = 0;
static char **envp_acc = NULL;
static size_t n_env = 0;

static void refuse_symlink(const char *path) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) { errno = ELOOP; fail(ELOOP, path); }
}

static void step_mount(char **a, long argc) {
  (void)argc;
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
static void step_clone_tree(char **a, long argc) {
  (void)argc;
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
static void step_attach_tree(char **a, long argc) {
  (void)argc;
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

/* Masked and read-only paths apply to what is there: 0 for a path absent or a symlink (left alone). */
static int present(const char *p, struct stat *st) {
  if (lstat(p, st) < 0) { if (errno == ENOENT) return 0; fail(errno, p); }
  return !S_ISLNK(st->st_mode);
}

/* Make a path unreadable (Docker's masked paths): a read-only empty tmpfs over a directory, /dev/null over anything else. */
static void step_mask(char **a, long argc) {
  (void)argc;
  const char *p = a[0];
  struct stat st;
  if (!present(p, &st)) return;
  if (S_ISDIR(st.st_mode)) { if (mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0") < 0) fail(errno, p); }
  else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) fail(errno, p);
}

/* Make a path read-only in place (Docker's read-only paths). */
static void step_readonly(char **a, long argc) {
  (void)argc;
  const char *p = a[0];
  struct stat st;
  if (!present(p, &st)) return;
  if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) fail(errno, p);
  if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) fail(errno, p);
}

static void step_capset(char **a, long argc) {
  (void)argc;
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
static void step_seccomp(char **a, long argc) {
  (void)argc;
  const char *hex = a[0];
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
static void join_cgroup(const char *procs) {
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, procs);
  if (write(fd, "0", 1) != 1) fail(errno, procs);
  close(fd);
}

static void step_loopback_up(char **a, long argc) {
  (void)a;
  (void)argc;
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

static void step_exec(char **a, long argc) {
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

/* foreground containers: if berth dies, the monitor and so the container die too */
static void step_die_with_parent(char **a, long argc) {
  (void)a;
  (void)argc;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(errno, "prctl");
  if (getppid() != parent_pid) _exit(137);
}

static void step_unshare(char **a, long argc) {
  (void)argc;
  if (unshare((int)num(a[0])) < 0) fail(errno, a[0]);
}

static void enter_ns(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, path);
  if (setns(fd, 0) < 0) fail(errno, path);
  close(fd);
}

static void step_setns(char **a, long argc) {
  (void)argc;
  enter_ns(a[0]);
}

/* join-netns PATH: a network namespace berth made and bound at PATH (the bridge network's); refused if it is no netns */
static void step_join_netns(char **a, long argc) {
  (void)argc;
  int fd = open(a[0], O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, a[0]);
  if (setns(fd, CLONE_NEWNET) < 0) fail(errno, a[0]);
  close(fd);
}

/* setns-target NS: the namespace of the container process this monitor watches (health checks) */
static void step_setns_target(char **a, long argc) {
  (void)argc;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)child_pid_target, a[0]);
  enter_ns(path);
}

static void step_drop_bounding(char **a, long argc) {
  for (long i = 0; i < argc; i++) if (prctl(PR_CAPBSET_DROP, num(a[i]), 0, 0, 0) < 0 && errno != EINVAL) fail(errno, a[i]);
}

static void step_mkdir(char **a, long argc) {
  (void)argc;
  if (mkdir(a[0], (mode_t)num(a[1])) < 0 && errno != EEXIST) fail(errno, a[0]);
  refuse_symlink(a[0]);
}

static void step_touch(char **a, long argc) {
  (void)argc;
  /* read-only: opening an existing lower file for writing would copy it up into the rw layer */
  int fd = open(a[0], O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, (mode_t)num(a[1]));
  if (fd < 0 && errno != EISDIR) fail(errno, a[0]);
  if (fd >= 0) close(fd);
}

static void step_mknod(char **a, long argc) {
  (void)argc;
  if (mknod(a[0], (mode_t)num(a[1]), makedev(num(a[2]), num(a[3]))) < 0) fail(errno, a[0]);
}

static void step_chown(char **a, long argc) {
  (void)argc;
  if (lchown(a[0], (uid_t)num(a[1]), (gid_t)num(a[2])) < 0) fail(errno, a[0]);
}

static void step_chmod(char **a, long argc) {
  (void)argc;
  refuse_symlink(a[0]);
  if (chmod(a[0], (mode_t)num(a[1])) < 0) fail(errno, a[0]);
}

static void step_symlink(char **a, long argc) {
  (void)argc;
  if (symlink(a[0], a[1]) < 0 && errno != EEXIST) fail(errno, a[1]);
}

static void step_chdir(char **a, long argc) {
  (void)argc;
  if (chdir(a[0]) < 0) fail(errno, a[0]);
}

static void step_pivot_root(char **a, long argc) {
  (void)argc;
  if (chdir(a[0]) < 0) fail(errno, a[0]);
  if (syscall(SYS_pivot_root, ".", ".") < 0) fail(errno, a[0]);
  if (umount2(".", MNT_DETACH) < 0) fail(errno, "old root");
  if (chdir("/") < 0) fail(errno, "/");
}

static void step_hostname(char **a, long argc) {
  (void)argc;
  if (sethostname(a[0], strlen(a[0])) < 0) fail(errno, a[0]);
}

static void step_rlimit(char **a, long argc) {
  (void)argc;
  struct rlimit rl = {(rlim_t)num(a[1]), (rlim_t)num(a[2])};
  if (setrlimit((int)num(a[0]), &rl) < 0) fail(errno, a[0]);
}

static void step_groups(char **a, long argc) {
  gid_t *g = calloc((size_t)argc + 1, sizeof *g);
  if (!g) fail(ENOMEM, "setgroups");
  for (long i = 0; i < argc; i++) g[i] = (gid_t)num(a[i]);
  if (setgroups((size_t)argc, g) < 0) fail(errno, "setgroups");
  free(g);
}

static void step_gid(char **a, long argc) {
  (void)argc;
  if (setresgid((gid_t)num(a[0]), (gid_t)num(a[0]), (gid_t)num(a[0])) < 0) fail(errno, a[0]);
}

static void step_uid(char **a, long argc) {
  (void)argc;
  if (setresuid((uid_t)num(a[0]), (uid_t)num(a[0]), (uid_t)num(a[0])) < 0) fail(errno, a[0]);
  /* a credential change clears the death signal: set it again, and check the monitor is still there */
  if (alive_pipe[0] >= 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(errno, "prctl");
    /* getppid() is 0 in a new PID namespace: the pipe tells whether the monitor died meanwhile */
    struct pollfd pf = {alive_pipe[0], POLLIN, 0};
    if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLIN))) _exit(137);
  }
}

static void step_join_cgroup(char **a, long argc) {
  for (long i = 0; i < argc; i++) join_cgroup(a[i]);
}

static void step_no_new_privs(char **a, long argc) {
  (void)a;
  (void)argc;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(errno, "prctl");
}

static void step_env(char **a, long argc) {
  (void)argc;
  char **e = realloc(envp_acc, (n_env + 2) * sizeof *e);
  if (!e) fail(ENOMEM, "env");
  envp_acc = e;
  envp_acc[n_env++] = a[0];
}

const struct step setup_steps[] = {
  {"die-with-parent", 0, 0, NULL, step_die_with_parent},
  {"unshare", 1, 1, NULL, step_unshare},
  {"setns", 1, 1, NULL, step_setns},
  {"setns-target", 1, 1, NULL, step_setns_target},
  {"join-netns", 1, 1, NULL, step_join_netns},
  {"mount", 5, 5, NULL, step_mount},
  {"pty", 0, 1, "pty [noconsole]", step_pty},
  {"mask", 1, 1, NULL, step_mask},
  {"readonly", 1, 1, NULL, step_readonly},
  {"drop-bounding", -1, -1, NULL, step_drop_bounding},
  {"capset", 3, 3, NULL, step_capset},
  {"clone-tree", 2, 2, NULL, step_clone_tree},
  {"attach-tree", 3, 3, NULL, step_attach_tree},
  {"mkdir", 2, 2, NULL, step_mkdir},
  {"touch", 2, 2, NULL, step_touch},
  {"mknod", 4, 4, NULL, step_mknod},
  {"chown", 3, 3, NULL, step_chown},
  {"chmod", 2, 2, NULL, step_chmod},
  {"symlink", 2, 2, NULL, step_symlink},
  {"chdir", 1, 1, NULL, step_chdir},
  {"pivot-root", 1, 1, NULL, step_pivot_root},
  {"hostname", 1, 1, NULL, step_hostname},
  {"loopback-up", 0, 0, NULL, step_loopback_up},
  {"rlimit", 3, 3, NULL, step_rlimit},
  {"groups", -1, -1, NULL, step_groups},
  {"gid", 1, 1, NULL, step_gid},
  {"uid", 1, 1, NULL, step_uid},
  {"seccomp", 1, 1, NULL, step_seccomp},
  {"join-cgroup", -1, -1, NULL, step_join_cgroup},
  {"no-new-privs", 0, 0, NULL, step_no_new_privs},
  {"env", 1, 1, NULL, step_env},
  {"exec", 1, -1, "exec needs a program", step_exec},
};
const size_t n_setup_steps = sizeof setup_steps / sizeof setup_steps[0];

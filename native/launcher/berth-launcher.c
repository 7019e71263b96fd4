/*
 * berth-launcher: the fast path of `berth exec [-i] [-t] CONTAINER CMD...`.
 *
 *   berth-launcher BERTH ARGS...
 *
 * BERTH is the berth CLI (bin/berth), ARGS its arguments. The exec was planned
 * by berth (TypeScript) and written to containers/<id>/exec.plan with the
 * facts it depends on (see fastExecPlan in src/container/exec.ts). This
 * program finds the container as berth does (name first, then a unique ID
 * prefix), checks each recorded fact, appends the command to the plan and
 * runs the helper with it: no Node start-up. It decides nothing: any other
 * form of the command, any fact that no longer holds, anything unexpected and
 * any failure of the helper before the command runs hand the same arguments
 * to BERTH (with BERTH_NO_LAUNCHER=1), which does the exec itself, reports
 * what went wrong, and writes the plan again.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char **fallback_argv;

/* Let berth itself do it. */
static void __attribute__((noreturn)) fallback(void) {
  setenv("BERTH_NO_LAUNCHER", "1", 1);
  execv(fallback_argv[0], fallback_argv);
  fprintf(stderr, "berth: cannot run %s: %s\n", fallback_argv[0], strerror(errno));
  _exit(125);
}

/* A whole (small) file, NUL-terminated; NULL when unreadable or larger than max. */
static char *slurp(const char *path, size_t max, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 8192, n = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) { close(fd); errno = ENOMEM; return NULL; }
    if (n == cap) {
      if (cap >= max) { free(buf); close(fd); errno = EFBIG; return NULL; }
      cap *= 2;
      buf = realloc(buf, cap + 1);
      continue;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { int e = errno; free(buf); close(fd); errno = e; return NULL; }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  if (len) *len = n;
  errno = 0;
  return buf;
}

/* ---- the top-level "Name" of a config.v2.json (the rest of the JSON is skipped, not interpreted) ---- */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* Past a JSON string starting at p (a '"'); NULL if it does not end. */
static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\') p++;
    else if (*p == '"') return p + 1;
  }
  return NULL;
}

static const char *skip_value(const char *p, const char *end) {
  p = skip_ws(p, end);
  if (p >= end) return NULL;
  if (*p == '"') return skip_string(p, end);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < end) {
      if (*p == '"') { p = skip_string(p, end); if (!p) return NULL; continue; }
      if (*p == '{' || *p == '[') depth++;
      else if (*p == '}' || *p == ']') { if (--depth == 0) return p + 1; }
      p++;
    }
    return NULL;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') p++;
  return p;
}

/* 1: the object's top-level "Name" is a string, copied (unescaped names only) to out; 0: no such key; -1: not understood. */
static int top_level_name(const char *p, size_t len, char *out, size_t outsz) {
  const char *end = p + len;
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return -1;
  p++;
  for (;;) {
    p = skip_ws(p, end);
    if (p < end && *p == '}') return 0;
    if (p >= end || *p != '"') return -1;
    const char *k = p + 1, *ke = skip_string(p, end);
    if (!ke) return -1;
    p = skip_ws(ke, end);
    if (p >= end || *p != ':') return -1;
    p = skip_ws(p + 1, end);
    if (ke - 1 - k == 4 && !memcmp(k, "Name", 4)) {
      if (p >= end || *p != '"') return -1;
      const char *v = p + 1, *ve = skip_string(p, end);
      if (!ve || memchr(v, '\\', (size_t)(ve - 1 - v)) || (size_t)(ve - 1 - v) >= outsz) return -1;
      memcpy(out, v, (size_t)(ve - 1 - v));
      out[ve - 1 - v] = 0;
      return 1;
    }
    p = skip_value(p, end);
    if (!p) return -1;
    p = skip_ws(p, end);
    if (p < end && *p == ',') { p++; continue; }
    if (p < end && *p == '}') return 0;
    return -1;
  }
}

static int is_id(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
  return n == 64;
}

/* The container `ref` names, as berth resolves it: by name, else by a unique ID prefix. */
static void resolve(const char *root, const char *ref, char id[65]) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/containers", root);
  DIR *d = opendir(path);
  if (!d) fallback();
  const char *name = ref[0] == '/' ? ref + 1 : ref;
  int by_prefix = 0, by_name = 0;
  size_t reflen = strlen(ref);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!is_id(e->d_name)) continue;
    size_t len;
    if ((size_t)snprintf(path, sizeof path, "%s/containers/%s/config.v2.json", root, e->d_name) >= sizeof path) fallback();
    char *json = slurp(path, 16 << 20, &len);
    if (!json) {
      if (errno == ENOENT) continue; /* (from open) berth skips a container without a record */
      fallback();
    }
    char n[256];
    int r = top_level_name(json, len, n, sizeof n);
    free(json);
    if (r < 0) fallback();
    if (r == 1 && n[0] == '/' && !strcmp(n + 1, name)) {
      if (by_name++) fallback();
      memcpy(id, e->d_name, 65);
    }
    if (!by_name && !strncmp(e->d_name, ref, reflen)) {
      if (by_prefix++ == 0) memcpy(id, e->d_name, 65);
    }
  }
  closedir(d);
  if (!by_name && by_prefix != 1) fallback(); /* none, or ambiguous: berth says so */
}

/* ---- the plan's preconditions ---- */

static void check_pid(const char *args) {
  long pid;
  char want[32], stat_path[64];
  if (sscanf(args, "%ld %31s", &pid, want) != 2 || pid <= 0) fallback();
  snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", pid);
  char *stat = slurp(stat_path, 1 << 16, NULL);
  if (!stat) fallback();
  char *p = strrchr(stat, ')');
  if (!p) fallback();
  p += 2;
  for (int field = 3; field < 22 && p; field++) { p = strchr(p, ' '); if (p) p++; }
  if (!p) fallback();
  size_t n = strcspn(p, " ");
  if (n != strlen(want) || strncmp(p, want, n)) fallback();
  free(stat);
}

static void check_lock(const char *path) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) fallback();
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) fallback(); /* nobody runs it (exit releases the lock) */
  if (errno != EWOULDBLOCK) fallback();
  close(fd);
}

static void check_file(const char *args) {
  const char *sp = strchr(args, ' ');
  if (!sp) fallback();
  char *content = slurp(sp + 1, 1 << 16, NULL);
  if (!content) fallback();
  size_t n = strlen(content);
  while (n && (content[n - 1] == '\n' || content[n - 1] == ' ' || content[n - 1] == '\t')) n--;
  size_t want = (size_t)(sp - args);
  if (n != want || strncmp(content, args, want)) fallback();
  free(content);
}

static void check_unchanged(const char *args) {
  struct stat st;
  if (!strncmp(args, "absent ", 7)) {
    if (lstat(args + 7, &st) == 0 || errno != ENOENT) fallback();
    return;
  }
  unsigned long long ino, size;
  char ctime_ns[40];
  int off = 0;
  if (sscanf(args, "%llu %llu %39s %n", &ino, &size, ctime_ns, &off) != 3 || !off) fallback();
  if (lstat(args + off, &st) < 0 || !S_ISREG(st.st_mode)) fallback();
  char now[40];
  snprintf(now, sizeof now, "%lld%09ld", (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  const char *a = now;
  while (*a == '0' && a[1]) a++;
  if ((unsigned long long)st.st_ino != ino || (unsigned long long)st.st_size != size || strcmp(a, ctime_ns)) fallback();
}

static void check_caps(const char *hex) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) fallback();
  uint64_t mine = ((uint64_t)d[1].permitted << 32) | d[0].permitted;
  char *end;
  errno = 0;
  unsigned long long want = strtoull(hex, &end, 16);
  if (errno || *end || end == hex || mine != (uint64_t)want) fallback();
}

/* ---- plan bytes ---- */

struct buf { char *p; size_t n, cap; };

static void put(struct buf *b, const void *s, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) fallback();
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void netstring(struct buf *b, const char *s) {
  char len[32];
  int n = snprintf(len, sizeof len, "%zu:", strlen(s));
  put(b, len, (size_t)n);
  put(b, s, strlen(s));
  put(b, ",", 1);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* the helper ended early: its status says why */
    p += w;
    n -= (size_t)w;
  }
}

static pid_t helper_pid;

static void forward(int sig) {
  if (helper_pid > 0) kill(helper_pid, sig);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: berth-launcher BERTH [ARGS...]\n"); return 125; }
  fallback_argv = argv + 1;
  const char *off = getenv("BERTH_NO_LAUNCHER");
  if (off && *off) fallback();

  /* [--root DIR]... exec [-i] [-t] CONTAINER CMD... (any other form: berth) */
  const char *root = getenv("BERTH_ROOT");
  if (!root || !*root) root = "/var/lib/berth";
  int i = 2;
  while (i < argc && !strncmp(argv[i], "--root", 6)) {
    if (argv[i][6] == '=') root = argv[i] + 7;
    else if (argv[i][6] == 0 && i + 1 < argc) root = argv[++i];
    else fallback();
    if (!*root) fallback();
    i++;
  }
  if (i >= argc || strcmp(argv[i], "exec")) fallback();
  int interactive = 0, tty = 0;
  for (i++; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--interactive")) interactive = 1;
    else if (!strcmp(a, "--tty")) tty = 1;
    else if (a[1] && a[1] != '-') {
      for (const char *c = a + 1; *c; c++) {
        if (*c == 'i') interactive = 1;
        else if (*c == 't') tty = 1;
        else fallback();
      }
    } else fallback();
  }
  if (i + 1 >= argc || !argv[i][0]) fallback();
  const char *ref = argv[i];
  char **cmd = argv + i + 1;
  int ncmd = argc - i - 1;

  char id[65];
  resolve(root, ref, id);

  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/containers/%s/exec.plan", root, id) >= sizeof path) fallback();
  size_t len;
  char *plan = slurp(path, 16 << 20, &len);
  if (!plan) fallback();
  char *p = plan, *end = plan + len;
  const char *chosen = NULL;
  size_t chosen_len = 0;
  int have_pid = 0, have_lock = 0, first = 1;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) fallback();
    *nl = 0;
    if (first) { if (strcmp(p, "berth-exec-plan 1")) fallback(); first = 0; }
    else if (!strncmp(p, "pid ", 4)) { check_pid(p + 4); have_pid = 1; }
    else if (!strncmp(p, "lock ", 5)) { check_lock(p + 5); have_lock = 1; }
    else if (!strncmp(p, "file ", 5)) check_file(p + 5);
    else if (!strncmp(p, "unchanged ", 10)) check_unchanged(p + 10);
    else if (!strncmp(p, "caps ", 5)) check_caps(p + 5);
    else if (!strncmp(p, "plan ", 5)) {
      char variant[16];
      size_t n;
      if (sscanf(p + 5, "%15s %zu", variant, &n) != 2 || n > (size_t)(end - nl - 1)) fallback();
      if (!strcmp(variant, tty ? "tty" : "plain")) { chosen = nl + 1; chosen_len = n; }
      nl += n + 1;
      if (nl >= end || *nl != '\n') fallback();
    } else fallback(); /* a fact this launcher does not know how to check */
    p = nl + 1;
  }
  if (!have_pid || !have_lock || !chosen) fallback();

  struct buf b = {0};
  put(&b, chosen, chosen_len);
  char count[32];
  snprintf(count, sizeof count, "%d", ncmd);
  netstring(&b, "exec");
  netstring(&b, count);
  for (int k = 0; k < ncmd; k++) netstring(&b, cmd[k]);

  /* the helper beside this program */
  char helper[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", helper, sizeof helper - 32);
  if (n <= 0) fallback();
  helper[n] = 0;
  char *slash = strrchr(helper, '/');
  if (!slash) fallback();
  strcpy(slash + 1, "berth-helper");

  int planp[2], statp[2];
  if (pipe2(planp, O_CLOEXEC) < 0 || pipe2(statp, O_CLOEXEC) < 0) fallback();
  signal(SIGPIPE, SIG_IGN);
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  helper_pid = fork();
  if (helper_pid < 0) { sigprocmask(SIG_SETMASK, &old, NULL); fallback(); }
  if (helper_pid == 0) {
    /* the helper starts as Node's spawn starts it: default dispositions, nothing blocked (the command inherits them) */
    for (int sig = 1; sig < NSIG; sig++) if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* fd 3: the plan, fd 4: the status (moved clear of 0-4 first) */
    int pf = fcntl(planp[0], F_DUPFD_CLOEXEC, 10), sf = fcntl(statp[1], F_DUPFD_CLOEXEC, 10);
    if (pf < 0 || sf < 0 || dup2(pf, 3) < 0 || dup2(sf, 4) < 0) _exit(125);
    if (!interactive) {
      int null = open("/dev/null", O_RDONLY); /* as berth's "ignore" */
      if (null < 0 || dup2(null, 0) < 0) _exit(125);
      if (null > 4) close(null);
    }
    char *hargv[] = {helper, NULL}, *henv[] = {NULL};
    execve(helper, hargv, henv);
    _exit(125);
  }
  int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t k = 0; k < sizeof fwd / sizeof *fwd; k++) {
    struct sigaction sa = {0};
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(fwd[k], &sa, NULL);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(planp[0]);
  close(statp[1]);
  write_all(planp[1], b.p, b.n);
  close(planp[1]);

  /* the status: "pid N", then "error ..." if a step failed; it ends when the command runs (or the helper ends) */
  char status[4096];
  size_t sn = 0;
  for (;;) {
    ssize_t r = read(statp[0], status + sn, sizeof status - 1 - sn);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    sn += (size_t)r;
    if (sn == sizeof status - 1) break;
  }
  status[sn] = 0;
  /* no "pid" line: the helper did not get as far as forking (not built, killed); an "error" line: a step failed
   * before the command ran. Either way nothing ran in the container: berth runs it and says why. (With -t the
   * monitor may already have read some piped input into the terminal by then; a command that cannot run loses it.) */
  int failed = strncmp(status, "pid ", 4) != 0 || !strncmp(status, "error ", 6) || strstr(status, "\nerror ");
  /* wait without reaping first, so a signal forwarded meanwhile cannot reach a reused pid */
  siginfo_t si;
  while (waitid(P_PID, (id_t)helper_pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
  sigprocmask(SIG_BLOCK, &all, NULL);
  int st;
  while (waitpid(helper_pid, &st, 0) < 0) if (errno != EINTR) { st = 125 << 8; break; }
  helper_pid = 0;
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (failed) fallback();
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 125;
}

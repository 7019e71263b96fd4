/*
 * The reference side of test/runtime/seccomp-libseccomp.test.ts: libseccomp builds a filter
 * from an OCI seccomp object the way runc's libcontainer/seccomp does, and exports it.
 *
 *   libseccomp-export filter < plan   the filter's BPF (host byte order) on stdout
 *   libseccomp-export table ARCH      "nr name" for every number below 4096 ARCH's table knows
 *   libseccomp-export resolve ARCH < names   "name nr" as libseccomp resolves each name on ARCH
 *                                     (negative: a pseudo number; runc's stub uses these)
 *
 * The plan is one directive a line (the test writes it from the OCI object; names stay OCI's):
 *   default ACTION ERRNO             errno -1: none given
 *   arch NAME                        libseccomp's name: x86, x86_64, x32, ...
 *   rule ACTION ERRNO SYSCALL N [INDEX OP VALUE VALUETWO]...
 * As runc: no-new-privs off, the binary-tree optimizer above 32 rules, a rule whose action is
 * the default action skipped, a name the library cannot resolve skipped, the rule added for the
 * native number (libseccomp translates it per architecture), the conditions of a rule added
 * together unless two test the same argument, then each as a rule of its own.
 * Any error exits 1 with a message on stderr: runc fails the container then.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const char *detail, int rc) {
  fprintf(stderr, "libseccomp-export: %s %s: %s\n", what, detail, rc ? strerror(-rc) : "invalid");
  exit(1);
}

/* runc's getAction: ERRNO and TRACE without errnoRet return EPERM. */
static uint32_t action(const char *name, long errno_ret) {
  uint32_t e = errno_ret < 0 ? EPERM : (uint32_t)errno_ret;
  if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD")) return SCMP_ACT_KILL_THREAD;
  if (!strcmp(name, "SCMP_ACT_KILL_PROCESS")) return SCMP_ACT_KILL_PROCESS;
  if (!strcmp(name, "SCMP_ACT_TRAP")) return SCMP_ACT_TRAP;
  if (!strcmp(name, "SCMP_ACT_ERRNO")) return SCMP_ACT_ERRNO(e);
  if (!strcmp(name, "SCMP_ACT_TRACE")) return SCMP_ACT_TRACE(e);
  if (!strcmp(name, "SCMP_ACT_LOG")) return SCMP_ACT_LOG;
  if (!strcmp(name, "SCMP_ACT_ALLOW")) return SCMP_ACT_ALLOW;
  die("action", name, 0);
  return 0;
}

static enum scmp_compare op(const char *name) {
  static const char *names[] = { "", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ" };
  for (int i = 1; i < 8; i++) if (!strcmp(name, names[i])) return (enum scmp_compare)i;
  die("operator", name, 0);
  return 0;
}

static int filter(void) {
  char word[64], name[64], errname[64];
  long errno_ret;
  uint32_t def = 0;
  if (scanf("%63s %63s %ld", word, name, &errno_ret) != 3 || strcmp(word, "default")) die("plan", "does not start with default", 0);
  def = action(name, errno_ret);
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx) die("seccomp_init", name, -EINVAL);
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc) die("seccomp_attr_set", "CTL_NNP", rc);
  int rules = 0;
  while (scanf("%63s", word) == 1) {
    if (!strcmp(word, "arch")) {
      if (scanf("%63s", name) != 1) die("plan", "arch without a name", 0);
      uint32_t token = seccomp_arch_resolve_name(name);
      if (!token) die("arch", name, 0);
      rc = seccomp_arch_add(ctx, token);
      if (rc && rc != -EEXIST) die("seccomp_arch_add", name, rc);
      continue;
    }
    if (strcmp(word, "rule")) die("plan", word, 0);
    struct scmp_arg_cmp conds[6];
    int n, count[6] = { 0 }, same = 0;
    if (scanf("%63s %ld %63s %d", errname, &errno_ret, name, &n) != 4 || n < 0 || n > 6) die("plan", "rule", 0);
    for (int i = 0; i < n; i++) {
      unsigned idx;
      unsigned long long a, b;
      if (scanf("%u %63s %llu %llu", &idx, word, &a, &b) != 4 || idx > 5) die("plan", "condition", 0);
      conds[i] = (struct scmp_arg_cmp){ .arg = idx, .op = op(word), .datum_a = a, .datum_b = b };
      if (++count[idx] > 1) same = 1;
    }
    /* runc counts its rules (one per name) for the optimizer; so does the plan */
    if (++rules == 33) {
      rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
      if (rc) die("seccomp_attr_set", "CTL_OPTIMIZE", rc);
    }
    uint32_t act = action(errname, errno_ret);
    if (act == def) continue;
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    if (same) {
      for (int i = 0; i < n; i++) if ((rc = seccomp_rule_add_array(ctx, act, nr, 1, &conds[i]))) die("seccomp_rule_add_array", name, rc);
    } else if ((rc = seccomp_rule_add_array(ctx, act, nr, (unsigned)n, conds))) {
      die("seccomp_rule_add_array", name, rc);
    }
  }
  rc = seccomp_export_bpf(ctx, 1);
  if (rc) die("seccomp_export_bpf", "stdout", rc);
  seccomp_release(ctx);
  return 0;
}

/* x32 numbers carry the x32 bit (0x40000000) in libseccomp's table, as the kernel sees them. */
static int table(const char *arch) {
  uint32_t token = seccomp_arch_resolve_name(arch);
  if (!token) die("arch", arch, 0);
  int base = token == SCMP_ARCH_X32 ? 0x40000000 : 0;
  for (int nr = base; nr < base + 4096; nr++) {
    char *name = seccomp_syscall_resolve_num_arch(token, nr);
    if (!name) continue;
    printf("%d %s\n", nr, name);
    free(name);
  }
  return 0;
}

static int resolve(const char *arch) {
  uint32_t token = seccomp_arch_resolve_name(arch);
  if (!token) die("arch", arch, 0);
  char name[64];
  while (scanf("%63s", name) == 1) printf("%s %d\n", name, seccomp_syscall_resolve_name_arch(token, name));
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "filter")) return filter();
  if (argc == 3 && !strcmp(argv[1], "table")) return table(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "resolve")) return resolve(argv[2]);
  fprintf(stderr, "usage: libseccomp-export filter < plan | table ARCH | resolve ARCH < names\n");
  return 2;
}

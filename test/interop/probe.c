/*
 * A confinement probe: run it as root inside a container and it tries, one check at a time, the
 * things a container must not be able to do. It prints one line per check:
 *
 *     <check> allowed|denied|skipped|error <detail>
 *
 * Usage: probe HOST_HOSTNAME HOST_UTS_NS MAJOR:MINOR   (e.g. probe vm 'uts:[4026531838]' 7:0)
 * The arguments describe the host as the test sees it, so the probe can tell whether it shares the
 * host's UTS namespace (then it does not touch the hostname) and which block device (one the host
 * can open) to try to open.
 *
 * Safety: the probe must not harm the host even when a runtime confines nothing. So every check
 * asks the kernel for something whose permission check comes *before* any effect, and makes the
 * request itself harmless or invalid: an empty file as a module or swap area, a wrong reboot magic,
 * an out-of-range timezone or tick, a nonexistent accounting file, files opened for writing but
 * never written, the hostname set to its current value, and so on. Comments say why each is safe.
 *
 * Classification (gate()): success means allowed. EPERM and EACCES are what capabilities, seccomp
 * filters (Docker's profile answers EPERM) and LSMs return, so they mean denied; ENOSYS means a
 * seccomp filter or a kernel without the feature, either way the container cannot do it: denied.
 * Any other error comes from a check the kernel makes after the permission check (an empty module
 * is ENOEXEC, a bad magic is EINVAL), so the container *was* permitted: allowed, with the error as
 * the detail ("past-permission-check:EINVAL"). Checks that differ say so. "skipped" means the
 * check was not safe to make here (it might touch the host); "error" means the probe itself failed.
 * The test counts only "denied" as denied.
 *
 * Each check runs in a forked child (unshare, chroot, setns and personality change the caller);
 * a child killed by a signal (SIGSYS from a seccomp kill action) counts as denied.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define KEXEC_SEGMENT_MAX 16

static const char *check;                 /* the running check's name */
static const char *host_name, *host_uts;  /* argv: the host's hostname and UTS namespace link */
static unsigned blk_major = 8, blk_minor; /* argv: a host block device */
static pid_t main_pid;

static void emit(const char *state, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(const char *state, const char *fmt, ...) {
  char detail[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  dprintf(1, "%s %s %s\n", check, state, detail);
}

static const char *en(int e) {
  const char *s = strerrorname_np(e);
  return s ? s : "E?";
}

/* The rule in the header comment, for a syscall result rc (< 0: failed with errno e). */
static void gate(long rc, int e) {
  if (rc >= 0) emit("allowed", "ok");
  else if (e == EPERM || e == EACCES || e == ENOSYS) emit("denied", "%s", en(e));
  else emit("allowed", "past-permission-check:%s", en(e));
}

/* For paths: a read-only mount (EROFS) or a masked/absent file (ENOENT) also means denied. */
static void gate_path(long rc, int e) {
  if (rc < 0 && (e == EROFS || e == ENOENT)) emit("denied", "%s", en(e));
  else gate(rc, e);
}

/* For calls with no later error of their own (unshare, socket...): any failure is a denial. */
static void gate_any(long rc, int e) {
  if (rc >= 0) emit("allowed", "ok");
  else emit("denied", "%s", en(e));
}

/* Whether we might share the host's UTS namespace (then hostname checks must not run). */
static const char *host_uts_reason(void) {
  struct utsname u;
  char link[64] = "";
  if (uname(&u) != 0) return "uname-failed";
  if (strcmp(u.nodename, host_name) == 0) return "hostname-equals-host";
  ssize_t n = readlink("/proc/self/ns/uts", link, sizeof link - 1);
  if (n <= 0) return "cannot-read-/proc/self/ns/uts";
  link[n] = 0;
  if (strcmp(link, host_uts) == 0) return "host-uts-namespace";
  return NULL;
}

/* ---- mounts ------------------------------------------------------------------------------------ */

/* Inside the container's mount namespace; a tmpfs/proc on our own dir, unmounted at once. */
static void c_mount_tmpfs(void) {
  long rc = mount("probe", "/tmp/probe-mnt", "tmpfs", 0, "size=64k");
  int e = errno;
  if (rc == 0) umount2("/tmp/probe-mnt", MNT_DETACH);
  gate(rc, e);
}
static void c_mount_proc(void) {
  long rc = mount("proc", "/tmp/probe-proc", "proc", 0, NULL);
  int e = errno;
  if (rc == 0) umount2("/tmp/probe-proc", MNT_DETACH);
  gate(rc, e);
}
/* umount of a dir that is not a mount point: may_mount() (EPERM) comes first, then EINVAL. */
static void c_umount(void) { long rc = umount2("/tmp/probe-mnt", 0); gate(rc, errno); }
/* fsopen checks CAP_SYS_ADMIN, then only makes a filesystem context fd (closed on exit). */
static void c_fsopen(void) { long rc = syscall(SYS_fsopen, "tmpfs", 0); gate(rc, errno); }
/* new_root is not a mount point: may_mount() (EPERM) first, then EINVAL before anything moves. */
static void c_pivot_root(void) { long rc = syscall(SYS_pivot_root, "/tmp/probe-pivot", "/tmp/probe-pivot/old"); gate(rc, errno); }
/* Docker grants CAP_SYS_CHROOT; the forked child's root changes, nobody else's. */
static void c_chroot(void) { long rc = chroot("/tmp"); gate(rc, errno); }

/* ---- namespaces -------------------------------------------------------------------------------- */

static void unshare_one(int flag) { long rc = unshare(flag); gate_any(rc, errno); }
static void c_unshare_mnt(void) { unshare_one(CLONE_NEWNS); }
static void c_unshare_user(void) { unshare_one(CLONE_NEWUSER); }
static void c_unshare_net(void) { unshare_one(CLONE_NEWNET); }
static void c_unshare_uts(void) { unshare_one(CLONE_NEWUTS); }
static void c_unshare_ipc(void) { unshare_one(CLONE_NEWIPC); }
static void c_unshare_pid(void) { unshare_one(CLONE_NEWPID); }
static void c_unshare_cgroup(void) { unshare_one(CLONE_NEWCGROUP); }
/* Joining the network namespace we are already in: the CAP_SYS_ADMIN check, no change. */
static void c_setns_net(void) {
  int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { emit("error", "open-/proc/self/ns/net:%s", en(errno)); return; }
  long rc = setns(fd, CLONE_NEWNET);
  gate(rc, errno);
}

/* ---- kernel: keys, modules, boot, swap, accounting, I/O ports ----------------------------------- */

/* A key in this process's own keyring; it goes away when the process exits. */
static void c_add_key(void) { long rc = syscall(SYS_add_key, "user", "berth-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING); gate(rc, errno); }
/* Only asks for the session keyring's id (create=0). */
static void c_keyctl(void) { long rc = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0); gate(rc, errno); }
/* may_init_module() (CAP_SYS_MODULE) first; a 0-byte image is then ENOEXEC: nothing can load. */
static void c_init_module(void) { static char none[1]; long rc = syscall(SYS_init_module, none, 0UL, ""); gate(rc, errno); }
static void c_finit_module(void) {
  int fd = open("/tmp/probe-empty", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { emit("error", "open-/tmp/probe-empty:%s", en(errno)); return; }
  long rc = syscall(SYS_finit_module, fd, "", 0);
  gate(rc, errno);
}
/* CAP_SYS_MODULE first, then ENOENT: no module has this name. */
static void c_delete_module(void) { long rc = syscall(SYS_delete_module, "berth_probe_none", O_NONBLOCK); gate(rc, errno); }
/* reboot checks CAP_SYS_BOOT before the magic numbers; magic2 = 0 is wrong, so even a permitted
 * caller gets EINVAL and the command (CAD_OFF, itself harmless) is never looked at. NEVER change
 * this into a valid call. */
static void c_reboot(void) { long rc = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL); gate(rc, errno); }
/* kexec_load_check() (CAP_SYS_BOOT) first; 17 segments (> KEXEC_SEGMENT_MAX) and an unknown
 * architecture are each EINVAL afterwards. (0 segments would *unload* a loaded kernel: never.) */
static void c_kexec_load(void) { long rc = syscall(SYS_kexec_load, 0UL, (unsigned long)KEXEC_SEGMENT_MAX + 1, NULL, 0xfffeUL << 16); gate(rc, errno); }
/* CAP_SYS_BOOT first, then EINVAL for the unknown flag bit. */
static void c_kexec_file_load(void) { long rc = syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, 0x80000000UL); gate(rc, errno); }
/* CAP_SYS_ADMIN first; an empty file has no swap signature: EINVAL. */
static void c_swapon(void) { long rc = swapon("/tmp/probe-empty", 0); gate(rc, errno); }
/* CAP_SYS_PACCT first; the file does not exist (ENOENT), so accounting is never switched. */
static void c_acct(void) { long rc = acct("/tmp/probe-nonexistent/acct"); gate(rc, errno); }
#ifdef __x86_64__
/* CAP_SYS_RAWIO; the forked child gets port access and never uses it. */
static void c_iopl(void) { long rc = syscall(SYS_iopl, 3); gate(rc, errno); }
static void c_ioperm(void) { long rc = syscall(SYS_ioperm, 0x80UL, 1UL, 1); gate(rc, errno); }
#endif
/* Kernel log size only; dmesg_restrict / CAP_SYSLOG / seccomp decide. */
static void c_syslog(void) { long rc = syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0); gate(rc, errno); }

/* ---- time --------------------------------------------------------------------------------------- */

/* security_settime64() (CAP_SYS_TIME) comes before the +-15h range check: a 16h01m timezone is
 * EINVAL for a permitted caller and changes nothing. */
static void c_settimeofday(void) {
  struct timezone tz = { .tz_minuteswest = 16 * 60 + 1, .tz_dsttime = 0 };
  long rc = syscall(SYS_settimeofday, NULL, &tz);
  gate(rc, errno);
}
/* CAP_SYS_TIME first, then EINVAL for a tick outside +-10%. */
static void c_adjtimex(void) {
  struct timex t = { .modes = ADJ_TICK, .tick = 1 };
  long rc = syscall(SYS_adjtimex, &t);
  gate(rc, errno);
}
/* clock_settime(REALTIME, now) would still reset NTP state on the host if it were permitted, so it
 * is only called when CAP_SYS_TIME is not effective: then the kernel refuses it whatever any filter
 * does. Holding CAP_SYS_TIME is reported as skipped (treated as not denied). */
static void c_clock_settime(void) {
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) { emit("error", "capget:%s", en(errno)); return; }
  if (d[CAP_TO_INDEX(CAP_SYS_TIME)].effective & CAP_TO_MASK(CAP_SYS_TIME)) { emit("skipped", "CAP_SYS_TIME-effective"); return; }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  long rc = syscall(SYS_clock_settime, CLOCK_REALTIME, &now);
  gate(rc, errno);
}

/* ---- hostname ----------------------------------------------------------------------------------- */

/* Sets the hostname / domain name to its current value, and only in a UTS namespace of our own. */
static void c_sethostname(void) {
  const char *why = host_uts_reason();
  if (why) { emit("skipped", "%s", why); return; }
  struct utsname u;
  uname(&u);
  long rc = sethostname(u.nodename, strlen(u.nodename));
  gate(rc, errno);
}
static void c_setdomainname(void) {
  const char *why = host_uts_reason();
  if (why) { emit("skipped", "%s", why); return; }
  struct utsname u;
  uname(&u);
  long rc = setdomainname(u.domainname, strlen(u.domainname));
  gate(rc, errno);
}
/* /proc/sys is read-only in a container: open for writing fails with EROFS. If it opens, write
 * the current hostname back, and only in our own UTS namespace (the file is per-UTS-namespace). */
static void c_proc_sys_write(void) {
  int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
  if (fd < 0) { gate_path(-1, errno); return; }
  const char *why = host_uts_reason();
  if (why) { emit("allowed", "opened-for-writing(write-skipped:%s)", why); return; }
  struct utsname u;
  uname(&u);
  long rc = write(fd, u.nodename, strlen(u.nodename));
  gate_path(rc, errno);
}

/* ---- /proc, /sys, devices ----------------------------------------------------------------------- */

/* Docker masks /proc/kcore with /dev/null (reads give EOF); opening the real one needs CAP_SYS_RAWIO. */
static void c_proc_kcore(void) {
  int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { gate_path(-1, errno); return; }
  char b;
  ssize_t n = read(fd, &b, 1);
  if (n == 1) emit("allowed", "read-1-byte");
  else if (n == 0) emit("denied", "masked(empty)");
  else emit("denied", "read:%s", en(errno));
}
/* Opened for writing and closed: NEVER write to it (any byte is a sysrq command). */
static void c_sysrq_trigger(void) { long rc = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC); gate_path(rc, errno); }
/* A sysfs attribute opened for writing, never written: sysfs is mounted read-only (EROFS). */
static void c_sys_write(void) {
  static const char *const candidates[] = { "/sys/kernel/rcu_expedited", "/sys/kernel/profiling", "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/uevent_helper" };
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
    if (access(candidates[i], F_OK) != 0) continue;
    long rc = open(candidates[i], O_WRONLY | O_CLOEXEC);
    int e = errno;
    if (rc >= 0) emit("allowed", "opened-for-writing:%s", candidates[i]);
    else gate_path(rc, e);
    return;
  }
  emit("denied", "no-sysfs-attribute-visible");
}
/* /dev/mem: absent from a container's /dev (ENOENT), and needs CAP_SYS_RAWIO anyway. */
static void c_dev_mem(void) { long rc = open("/dev/mem", O_RDONLY | O_CLOEXEC); gate_path(rc, errno); }
/* Docker grants CAP_MKNOD and its devices cgroup allows mknod of anything: the *open* is refused. */
static void c_mknod_blk(void) {
  unlink("/tmp/probe-blk");
  long rc = mknod("/tmp/probe-blk", S_IFBLK | 0600, makedev(blk_major, blk_minor));
  int e = errno;
  unlink("/tmp/probe-blk");
  gate(rc, e);
}
/* Make a device node and open it (never read or written); a devices cgroup refuses the open with
 * EPERM. ENXIO/ENODEV (no such device) would be past the permission check. */
static void open_node(const char *path, mode_t type, dev_t dev, int flags) {
  unlink(path);
  if (mknod(path, type | 0600, dev) != 0) { emit("denied", "mknod:%s", en(errno)); return; }
  long rc = open(path, flags | O_NONBLOCK | O_CLOEXEC);
  int e = errno;
  unlink(path);
  gate(rc, e);
}
/* A host disk (argv), read-only. */
static void c_open_blk(void) { open_node("/tmp/probe-blk2", S_IFBLK, makedev(blk_major, blk_minor), O_RDONLY); }
/* /dev/kmsg (1:11) for writing: the kernel asks for no capability (only reading is restricted),
 * so only a devices cgroup stands in the way. Nothing is written. */
static void c_open_kmsg(void) { open_node("/tmp/probe-kmsg", S_IFCHR, makedev(1, 11), O_WRONLY); }

/* ---- network ------------------------------------------------------------------------------------ */

/* Docker's default capabilities include CAP_NET_RAW: both are expected to be allowed. */
static void c_raw_inet(void) { long rc = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP); gate_any(rc, errno); }
static void c_raw_packet(void) { long rc = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)); gate_any(rc, errno); }

/* ---- bpf, perf, userfaultfd, handles, personality ----------------------------------------------- */

/* A one-entry array map, freed when the fd closes. */
static void c_bpf(void) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = BPF_MAP_TYPE_ARRAY;
  a.key_size = 4;
  a.value_size = 4;
  a.max_entries = 1;
  long rc = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
  gate(rc, errno);
}
/* A user-space-only software counter on ourselves. */
static void c_perf_event_open(void) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_SOFTWARE;
  a.config = PERF_COUNT_SW_CPU_CLOCK;
  a.disabled = 1;
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  long rc = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0UL);
  gate(rc, errno);
}
/* The user-mode-only variant the kernel gives anyone: only a seccomp filter denies it. */
static void c_userfaultfd(void) { long rc = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY); gate(rc, errno); }
/* The "shocker" call. CAP_DAC_READ_SEARCH (or CAP_SYS_ADMIN over the mount) is checked before the
 * handle is decoded; this one is garbage, so a permitted caller gets ESTALE/EINVAL, no file. */
static void c_open_by_handle_at(void) {
  struct { unsigned int bytes; int type; unsigned char h[8]; } fh = { 8, 1, { 0 } };
  int mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  long rc = syscall(SYS_open_by_handle_at, mfd, &fh, O_RDONLY | O_CLOEXEC);
  gate(rc, errno);
}
/* personality() never fails in the kernel; only Docker's seccomp profile restricts its argument
 * (PER_LINUX32 is in its allow list, ADDR_NO_RANDOMIZE is not). Affects the forked child only. */
static void c_personality_norandom(void) { long rc = personality(PER_LINUX | ADDR_NO_RANDOMIZE); gate(rc, errno); }
static void c_personality_linux32(void) { long rc = personality(PER_LINUX32); gate(rc, errno); }

/* ---- ptrace ------------------------------------------------------------------------------------- */

static pid_t sleeper(void) {
  pid_t p = fork();
  if (p == 0) { for (;;) pause(); }
  return p;
}
static void attach(pid_t target) {
  long rc = ptrace(PTRACE_ATTACH, target, NULL, NULL);
  int e = errno;
  if (rc == 0) { waitpid(target, NULL, __WALL); ptrace(PTRACE_DETACH, target, NULL, NULL); }
  gate(rc, e);
}
/* Our own child (Docker's profile allows ptrace on kernels >= 4.8). */
static void c_ptrace_child(void) {
  pid_t t = sleeper();
  attach(t);
  kill(t, SIGKILL);
  waitpid(t, NULL, 0);
}
/* Another process of the same container that is not our descendant (Yama scope 1 would refuse). */
static void c_ptrace_sibling(void) {
  pid_t t = sleeper();
  pid_t a = fork();
  if (a == 0) { attach(t); _exit(0); }
  int st = 0;
  waitpid(a, &st, 0);
  kill(t, SIGKILL);
  waitpid(t, NULL, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) emit("denied", "attacher-died:status-%d", st);
}

static pid_t ppid_of(pid_t p) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", p);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *r = strrchr(buf, ')');
  int pp = -1;
  if (!r || sscanf(r + 2, "%*c %d", &pp) != 1) return -1;
  return pp;
}
static int descends_from(pid_t p, pid_t ancestor) {
  for (int i = 0; p > 0 && i < 4096; i++, p = ppid_of(p)) if (p == ancestor) return 1;
  return 0;
}
/* A process of another container (or the host): one that is neither the probe's ancestor nor its
 * descendant, and not a kernel thread. A PID namespace makes none visible. If one is, only the
 * ptrace access check runs: /proc/PID/mem is opened (PTRACE_MODE_ATTACH) and closed, never read. */
static void c_ptrace_foreign(void) {
  DIR *d = opendir("/proc");
  if (!d) { emit("error", "opendir-/proc:%s", en(errno)); return; }
  struct dirent *de;
  while ((de = readdir(d))) {
    pid_t p = atoi(de->d_name);
    if (p <= 0 || descends_from(p, main_pid) || descends_from(main_pid, p)) continue;
    char path[64], c;
    snprintf(path, sizeof path, "/proc/%d/cmdline", p);
    int cfd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = cfd < 0 ? -1 : read(cfd, &c, 1);
    if (cfd >= 0) close(cfd);
    if (n != 1) continue; /* kernel thread or gone */
    snprintf(path, sizeof path, "/proc/%d/mem", p);
    long rc = open(path, O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (rc >= 0) emit("allowed", "opened-/proc/%d/mem", p);
    else gate(rc, e);
    return;
  }
  emit("denied", "no-foreign-process-visible");
}

/* ---- driver ------------------------------------------------------------------------------------- */

static const struct { const char *name; void (*fn)(void); } CHECKS[] = {
  { "mount_tmpfs", c_mount_tmpfs }, { "mount_proc", c_mount_proc }, { "umount", c_umount },
  { "fsopen", c_fsopen }, { "pivot_root", c_pivot_root }, { "chroot", c_chroot },
  { "unshare_mnt", c_unshare_mnt }, { "unshare_user", c_unshare_user }, { "unshare_net", c_unshare_net },
  { "unshare_uts", c_unshare_uts }, { "unshare_ipc", c_unshare_ipc }, { "unshare_pid", c_unshare_pid },
  { "unshare_cgroup", c_unshare_cgroup }, { "setns_net", c_setns_net },
  { "add_key", c_add_key }, { "keyctl", c_keyctl },
  { "init_module", c_init_module }, { "finit_module", c_finit_module }, { "delete_module", c_delete_module },
  { "reboot", c_reboot }, { "kexec_load", c_kexec_load }, { "kexec_file_load", c_kexec_file_load },
  { "swapon", c_swapon }, { "acct", c_acct },
#ifdef __x86_64__
  { "iopl", c_iopl }, { "ioperm", c_ioperm },
#endif
  { "syslog", c_syslog },
  { "settimeofday", c_settimeofday }, { "adjtimex", c_adjtimex }, { "clock_settime", c_clock_settime },
  { "sethostname", c_sethostname }, { "setdomainname", c_setdomainname }, { "proc_sys_write", c_proc_sys_write },
  { "proc_kcore", c_proc_kcore }, { "sysrq_trigger", c_sysrq_trigger }, { "sys_write", c_sys_write },
  { "dev_mem", c_dev_mem }, { "mknod_blk", c_mknod_blk }, { "open_blk", c_open_blk }, { "open_kmsg", c_open_kmsg },
  { "raw_inet", c_raw_inet }, { "raw_packet", c_raw_packet },
  { "bpf", c_bpf }, { "perf_event_open", c_perf_event_open }, { "userfaultfd", c_userfaultfd },
  { "open_by_handle_at", c_open_by_handle_at },
  { "personality_norandom", c_personality_norandom }, { "personality_linux32", c_personality_linux32 },
  { "ptrace_child", c_ptrace_child }, { "ptrace_sibling", c_ptrace_sibling }, { "ptrace_foreign", c_ptrace_foreign },
};

static void prepare(void) {
  mkdir("/tmp", 01777);
  const char *dirs[] = { "/tmp/probe-mnt", "/tmp/probe-proc", "/tmp/probe-pivot", "/tmp/probe-pivot/old" };
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) mkdir(dirs[i], 0755);
  close(open("/tmp/probe-empty", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
}

int main(int argc, char **argv) {
  if (argc != 4 || sscanf(argv[3], "%u:%u", &blk_major, &blk_minor) != 2) {
    fprintf(stderr, "usage: %s HOST_HOSTNAME HOST_UTS_NS MAJOR:MINOR\n", argv[0]);
    return 2;
  }
  host_name = argv[1];
  host_uts = argv[2];
  main_pid = getpid();
  setvbuf(stdout, NULL, _IONBF, 0);
  prepare();
  dprintf(1, "# pid %d uid %d\n", (int)main_pid, (int)getuid());
  for (size_t i = 0; i < sizeof CHECKS / sizeof *CHECKS; i++) {
    check = CHECKS[i].name;
    pid_t p = fork();
    if (p < 0) { emit("error", "fork:%s", en(errno)); continue; }
    if (p == 0) { alarm(10); CHECKS[i].fn(); _exit(0); }
    int st;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) emit("error", "timeout");
    else if (WIFSIGNALED(st)) emit("denied", "killed-by-%s", sigabbrev_np(WTERMSIG(st)) ?: "signal");
    else if (WEXITSTATUS(st) != 0) emit("error", "exit-%d", WEXITSTATUS(st));
  }
  return 0;
}

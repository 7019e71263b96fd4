/*
 * berth_native: thin synchronous Node-API wrappers around a few Linux
 * syscalls that Node does not expose, plus a CRC-64/ISO (Go hash/crc64)
 * implementation.  No policy lives here: arguments are type-checked, the
 * syscall is made, and failures are thrown as Errors carrying
 * code/errno/syscall/path.  The only per-instance state (the CRC tables) is
 * stored as Node-API instance data, so the module is safe in worker_threads.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/inotify.h>
#include <uv.h>
#include "berth_compress.h"

#define CRC64_ISO 0xD800000000000000ULL

typedef struct { uint64_t t[8][256]; } crc_tables;

static const char *errno_name(int e) {
  switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(ENOTBLK) E(EBUSY) E(EEXIST)
    E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE)
    E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK)
    E(EPIPE) E(ERANGE) E(EDEADLK) E(ENAMETOOLONG) E(ENOLCK) E(ENOSYS)
    E(ENOTEMPTY) E(ELOOP) E(ENODATA) E(EOVERFLOW) E(ENOTSUP) E(EDQUOT)
    E(ESTALE) E(EUCLEAN) E(ENOMEDIUM) E(EMEDIUMTYPE)
#undef E
    default: return "UNKNOWN";
  }
}

/* Throws Error('<syscall> "<path>": <CODE> (<strerror>)') with .code, .errno
 * (positive Linux errno), .syscall and, when path != NULL, .path. */
static void throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  char ebuf[128];
  const char *code = errno_name(err);
  const char *desc = strerror_r(err, ebuf, sizeof ebuf); /* GNU variant */
  int n = path ? snprintf(NULL, 0, "%s \"%s\": %s (%s)", syscall, path, code, desc)
               : snprintf(NULL, 0, "%s: %s (%s)", syscall, code, desc);
  char *msg = malloc((size_t)n + 1);
  if (msg == NULL) { napi_throw_error(env, code, "out of memory"); return; }
  if (path) snprintf(msg, (size_t)n + 1, "%s \"%s\": %s (%s)", syscall, path, code, desc);
  else snprintf(msg, (size_t)n + 1, "%s: %s (%s)", syscall, code, desc);
  napi_value vcode, vmsg, e, v;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &vcode);
  napi_create_string_utf8(env, msg, (size_t)n, &vmsg);
  free(msg);
  if (napi_create_error(env, vcode, vmsg, &e) != napi_ok) return;
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, e, "path", v);
  }
  napi_throw(env, e);
}

static int type_error(napi_env env, const char *fn, const char *arg, const char *want) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: argument \"%s\" must be %s", fn, arg, want);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return -1;
}

/* String argument -> malloc'd UTF-8 (caller frees).  With nullable, null and
 * undefined give *out = NULL.  Rejects embedded NUL bytes. */
static int arg_str(napi_env env, napi_value v, int nullable, const char *fn,
                   const char *arg, char **out) {
  napi_valuetype t;
  size_t len;
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (nullable && (t == napi_null || t == napi_undefined)) return 0;
  if (t != napi_string) return type_error(env, fn, arg, nullable ? "a string or null" : "a string");
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -1;
  *out = malloc(len + 1);
  if (*out == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return -1; }
  if (napi_get_value_string_utf8(env, v, *out, len + 1, &len) != napi_ok) return -1;
  if (strlen(*out) != len) return type_error(env, fn, arg, "a string without null bytes");
  return 0;
}

/* Integer-valued number in [lo, hi]. */
static int arg_int(napi_env env, napi_value v, const char *fn, const char *arg,
                   double lo, double hi, double *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t != napi_number) return type_error(env, fn, arg, "a number");
  if (napi_get_value_double(env, v, out) != napi_ok) return -1;
  if (!(*out >= lo && *out <= hi) || *out != (double)(int64_t)*out) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: argument \"%s\" must be an integer in [%.0f, %.0f]", fn, arg, lo, hi);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return -1;
  }
  return 0;
}

#define ARG_U32(v, fn, arg, out) arg_int(env, v, fn, arg, 0, 4294967295.0, out)
#define ARG_I32(v, fn, arg, out) arg_int(env, v, fn, arg, -2147483648.0, 2147483647.0, out)

/* Uint8Array (incl. Buffer) -> pointer/length view. */
static int arg_bytes(napi_env env, napi_value v, const char *fn, const char *arg,
                     uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type tt;
  void *p = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok) return -1;
  if (!is_ta) return type_error(env, fn, arg, "a Buffer or Uint8Array");
  if (napi_get_typedarray_info(env, v, &tt, len, &p, NULL, NULL) != napi_ok) return -1;
  if (tt != napi_uint8_array && tt != napi_uint8_clamped_array)
    return type_error(env, fn, arg, "a Buffer or Uint8Array");
  *data = p;
  return 0;
}

#define GET_ARGS(n)                                                         \
  size_t argc = (n);                                                        \
  napi_value a[(n)];                                                        \
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok) return NULL

static napi_value js_mount(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  char *src = NULL, *tgt = NULL, *fs = NULL, *data = NULL;
  double flags;
  if (arg_str(env, a[0], 1, "mount", "source", &src) == 0 &&
      arg_str(env, a[1], 0, "mount", "target", &tgt) == 0 &&
      arg_str(env, a[2], 1, "mount", "fstype", &fs) == 0 &&
      ARG_U32(a[3], "mount", "flags", &flags) == 0 &&
      arg_str(env, a[4], 1, "mount", "data", &data) == 0 &&
      mount(src, tgt, fs, (unsigned long)flags, data) != 0)
    throw_errno(env, errno, "mount", tgt);
  free(src); free(tgt); free(fs); free(data);
  return NULL;
}

/* One fsconfig(2) parameter: value NULL sets a flag; with as_path the value is a directory, given as its path string
 * (what /proc/self/mountinfo then shows) when it fits in fsconfig's 255 bytes, else as an O_PATH fd (overlayfs takes
 * one since Linux 6.13). */
static int fs_param(int fsfd, const char *key, const char *value, int as_path) {
  if (value == NULL) return fsconfig(fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
  if (as_path && strlen(value) > 255) {
    int dfd = open(value, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int r = fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return r;
  }
  return fsconfig(fsfd, FSCONFIG_SET_STRING, key, value, 0);
}

/* Appends the filesystem's own explanation (the fs context's message log, "e overlayfs: ...") to label. */
static void fs_log(int fsfd, char *label, size_t cap) {
  char msg[256];
  ssize_t n = read(fsfd, msg, sizeof msg - 1);
  if (n <= 2) return;
  msg[n] = 0;
  if (msg[n - 1] == '\n') msg[n - 1] = 0;
  size_t l = strlen(label);
  snprintf(label + l, cap - l, " [%s]", msg + 2);
}

/* fsmount(target, fstype, params: [key, value|null, asPath][]): mount a new filesystem with the mount API
 * (fsopen, fsconfig per parameter, fsmount, move_mount). Paths are absolute or relative to the process's cwd,
 * which is never changed: a parameter is one value, so no page limit applies to the whole set. */
static napi_value js_fsmount(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char *tgt = NULL, *fs = NULL, *key = NULL, *val = NULL, label[400];
  uint32_t n = 0;
  bool is_arr = false;
  int fsfd = -1, mfd = -1;
  if (arg_str(env, a[0], 0, "fsmount", "target", &tgt) || arg_str(env, a[1], 0, "fsmount", "fstype", &fs)) goto out;
  if (napi_is_array(env, a[2], &is_arr) != napi_ok || !is_arr) { type_error(env, "fsmount", "params", "an array"); goto out; }
  napi_get_array_length(env, a[2], &n);
  fsfd = fsopen(fs, FSOPEN_CLOEXEC);
  if (fsfd < 0) { throw_errno(env, errno, "fsopen", fs); goto out; }
  for (uint32_t i = 0; i < n; i++) {
    napi_value item, k, v, p;
    bool as_path = false;
    if (napi_get_element(env, a[2], i, &item) != napi_ok || napi_get_element(env, item, 0, &k) != napi_ok ||
        napi_get_element(env, item, 1, &v) != napi_ok || napi_get_element(env, item, 2, &p) != napi_ok) goto out;
    napi_get_value_bool(env, p, &as_path);
    if (arg_str(env, k, 0, "fsmount", "param key", &key) || arg_str(env, v, 1, "fsmount", "param value", &val)) goto out;
    if (fs_param(fsfd, key, val, as_path) != 0) {
      int e = errno;
      snprintf(label, sizeof label, "fsconfig %s", key);
      fs_log(fsfd, label, sizeof label);
      throw_errno(env, e, label, val ? val : tgt);
      goto out;
    }
    free(key); free(val); key = val = NULL;
  }
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
    int e = errno;
    snprintf(label, sizeof label, "fsconfig create %s", fs);
    fs_log(fsfd, label, sizeof label);
    throw_errno(env, e, label, tgt);
    goto out;
  }
  mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
  if (mfd < 0) { throw_errno(env, errno, "fsmount", tgt); goto out; }
  if (move_mount(mfd, "", AT_FDCWD, tgt, MOVE_MOUNT_F_EMPTY_PATH) != 0) throw_errno(env, errno, "move_mount", tgt);
out:
  if (mfd >= 0) close(mfd);
  if (fsfd >= 0) close(fsfd);
  free(tgt); free(fs); free(key); free(val);
  return NULL;
}

/* mountIn(dir, source, target, fstype, flags, data): mount(2) with relative paths in data resolved against dir,
 * for kernels without the mount API parameters needed (mount options must fit in one page). A short-lived child
 * changes its own cwd; the caller's is untouched. target is resolved by the caller before the child starts. */
static napi_value js_mount_in(napi_env env, napi_callback_info info) {
  GET_ARGS(6);
  char *dir = NULL, *src = NULL, *tgt = NULL, *fs = NULL, *data = NULL, tpath[64];
  double flags;
  int dfd = -1, tfd = -1;
  if (arg_str(env, a[0], 0, "mountIn", "dir", &dir) || arg_str(env, a[1], 1, "mountIn", "source", &src) ||
      arg_str(env, a[2], 0, "mountIn", "target", &tgt) || arg_str(env, a[3], 1, "mountIn", "fstype", &fs) ||
      ARG_U32(a[4], "mountIn", "flags", &flags) || arg_str(env, a[5], 1, "mountIn", "data", &data)) goto out;
  dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) { throw_errno(env, errno, "open", dir); goto out; }
  tfd = open(tgt, O_PATH | O_CLOEXEC);
  if (tfd < 0) { throw_errno(env, errno, "open", tgt); goto out; }
  snprintf(tpath, sizeof tpath, "/proc/self/fd/%d", tfd);
  pid_t pid = fork();
  if (pid < 0) { throw_errno(env, errno, "fork", tgt); goto out; }
  if (pid == 0) {
    /* only async-signal-safe calls from here: the parent has threads */
    if (fchdir(dfd) != 0 || mount(src, tpath, fs, (unsigned long)flags, data) != 0) _exit(errno & 0xff);
    _exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(st)) throw_errno(env, EINTR, "mount", tgt);
  else if (WEXITSTATUS(st) != 0) throw_errno(env, WEXITSTATUS(st), "mount", tgt);
out:
  if (dfd >= 0) close(dfd);
  if (tfd >= 0) close(tfd);
  free(dir); free(src); free(tgt); free(fs); free(data);
  return NULL;
}

static napi_value js_umount2(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *tgt = NULL;
  double flags;
  if (arg_str(env, a[0], 0, "umount2", "target", &tgt) == 0 &&
      ARG_I32(a[1], "umount2", "flags", &flags) == 0 &&
      umount2(tgt, (int)flags) != 0)
    throw_errno(env, errno, "umount2", tgt);
  free(tgt);
  return NULL;
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char *path = NULL;
  double mode, maj, min;
  if (arg_str(env, a[0], 0, "mknod", "path", &path) == 0 &&
      ARG_U32(a[1], "mknod", "mode", &mode) == 0 &&
      ARG_U32(a[2], "mknod", "major", &maj) == 0 &&
      ARG_U32(a[3], "mknod", "minor", &min) == 0 &&
      mknod(path, (mode_t)mode, makedev((unsigned)maj, (unsigned)min)) != 0)
    throw_errno(env, errno, "mknod", path);
  free(path);
  return NULL;
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char *path = NULL, *name = NULL;
  uint8_t *val;
  size_t len;
  double flags;
  if (arg_str(env, a[0], 0, "lsetxattr", "path", &path) == 0 &&
      arg_str(env, a[1], 0, "lsetxattr", "name", &name) == 0 &&
      arg_bytes(env, a[2], "lsetxattr", "value", &val, &len) == 0 &&
      ARG_I32(a[3], "lsetxattr", "flags", &flags) == 0 &&
      lsetxattr(path, name, len ? (const void *)val : "", len, (int)flags) != 0)
    throw_errno(env, errno, "lsetxattr", path);
  free(path); free(name);
  return NULL;
}

/* lremovexattr(2): true when removed, false when the attribute was not there (ENODATA). */
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path = NULL, *name = NULL;
  napi_value out = NULL;
  if (arg_str(env, a[0], 0, "lremovexattr", "path", &path) == 0 &&
      arg_str(env, a[1], 0, "lremovexattr", "name", &name) == 0) {
    if (lremovexattr(path, name) == 0) napi_get_boolean(env, true, &out);
    else if (errno == ENODATA) napi_get_boolean(env, false, &out);
    else throw_errno(env, errno, "lremovexattr", path);
  }
  free(path); free(name);
  return out;
}

/* Calls lgetxattr (name != NULL) or llistxattr (name == NULL), first into the
 * caller's stack buffer, then into a heap buffer sized by a probe call,
 * retrying while the value keeps growing (ERANGE).  *out is sbuf or heap. */
static ssize_t xattr_read(const char *path, const char *name, char *sbuf,
                          size_t cap, char **out) {
  char *buf = sbuf;
  ssize_t n;
  for (;;) {
    n = name ? lgetxattr(path, name, buf, cap) : llistxattr(path, buf, cap);
    if (n >= 0 || errno != ERANGE) break;
    ssize_t want = name ? lgetxattr(path, name, NULL, 0) : llistxattr(path, NULL, 0);
    if (want < 0) { n = -1; break; }
    cap = (size_t)want > cap ? (size_t)want : cap * 2;
    char *nb = malloc(cap);
    if (nb == NULL) { errno = ENOMEM; n = -1; break; }
    if (buf != sbuf) free(buf);
    buf = nb;
  }
  *out = buf;
  return n;
}

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path = NULL, *name = NULL, sbuf[256], *buf = sbuf;
  napi_value res = NULL;
  if (arg_str(env, a[0], 0, "lgetxattr", "path", &path) == 0 &&
      arg_str(env, a[1], 0, "lgetxattr", "name", &name) == 0) {
    ssize_t n = xattr_read(path, name, sbuf, sizeof sbuf, &buf);
    if (n >= 0) napi_create_buffer_copy(env, (size_t)n, buf, NULL, &res);
    else if (errno == ENODATA || errno == ENOTSUP) napi_get_null(env, &res);
    else throw_errno(env, errno, "lgetxattr", path);
  }
  if (buf != sbuf) free(buf);
  free(path); free(name);
  return res;
}

static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path = NULL, sbuf[1024], *buf = sbuf;
  napi_value res = NULL, s;
  if (arg_str(env, a[0], 0, "llistxattr", "path", &path) == 0) {
    ssize_t n = xattr_read(path, NULL, sbuf, sizeof sbuf, &buf);
    if (n < 0) {
      throw_errno(env, errno, "llistxattr", path);
    } else if (napi_create_array(env, &res) == napi_ok) {
      uint32_t i = 0;
      for (ssize_t off = 0; off < n;) {
        size_t l = strnlen(buf + off, (size_t)(n - off));
        if (l > 0) {
          if (napi_create_string_utf8(env, buf + off, l, &s) != napi_ok ||
              napi_set_element(env, res, i++, s) != napi_ok) { res = NULL; break; }
        }
        off += (ssize_t)l + 1;
      }
    }
  }
  if (buf != sbuf) free(buf);
  free(path);
  return res;
}

static napi_value js_flock(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  double fd, op;
  napi_value res = NULL;
  int r;
  if (ARG_I32(a[0], "flock", "fd", &fd) || ARG_I32(a[1], "flock", "op", &op)) return NULL;
  do r = flock((int)fd, (int)op); while (r != 0 && errno == EINTR);
  if (r == 0) napi_get_boolean(env, true, &res);
  else if (((int)op & LOCK_NB) && errno == EWOULDBLOCK) napi_get_boolean(env, false, &res);
  else throw_errno(env, errno, "flock", NULL);
  return res;
}

/* openTmpfile(dir, mode): an unnamed file in dir (O_TMPFILE); a killed writer leaves nothing behind. */
static napi_value js_open_tmpfile(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *dir = NULL;
  double mode;
  napi_value res = NULL;
  if (arg_str(env, a[0], 0, "openTmpfile", "dir", &dir) == 0 && ARG_U32(a[1], "openTmpfile", "mode", &mode) == 0) {
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) throw_errno(env, errno, "open(O_TMPFILE)", dir);
    else napi_create_int32(env, fd, &res);
  }
  free(dir);
  return res;
}

/* linkFd(fd, path): give an O_TMPFILE file its name (linkat AT_EMPTY_PATH). */
static napi_value js_link_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path = NULL;
  double fd;
  if (ARG_I32(a[0], "linkFd", "fd", &fd) == 0 && arg_str(env, a[1], 0, "linkFd", "path", &path) == 0 &&
      linkat((int)fd, "", AT_FDCWD, path, AT_EMPTY_PATH) != 0)
    throw_errno(env, errno, "linkat", path);
  free(path);
  return NULL;
}

/* sha256(data): the SHA-256 of the bytes as 64 lowercase hex characters, with the OpenSSL that Node links in and
 * exports to addons (its SHA256 symbol), or undefined where this Node exports none (weak: the addon still loads; the
 * caller then hashes with node:crypto). For the small inputs of read-only commands (image configs, chain IDs), which
 * then need not load node:crypto (~9 ms of a one-shot command's CPU). */
extern unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md) __attribute__((weak));
static napi_value js_sha256(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  uint8_t *p;
  size_t len;
  unsigned char md[32];
  char hex[65];
  static const char digits[] = "0123456789abcdef";
  napi_value out;
  if (arg_bytes(env, a[0], "sha256", "data", &p, &len)) return NULL;
  if (SHA256 == NULL) return NULL;
  SHA256(p, len, md);
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  if (napi_create_string_latin1(env, hex, 64, &out) != napi_ok) return NULL;
  return out;
}

/* crc64(state: Uint8Array(8) big-endian, data, offset?, length?): updates the
 * state in place exactly like Go's crc64.Update(state, ISOTable, data). */
static napi_value js_crc64(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  crc_tables *T = NULL;
  uint8_t *st, *p;
  size_t stlen, len;
  double off = 0, cnt;
  napi_valuetype t3, t4;
  if (napi_get_instance_data(env, (void **)&T) != napi_ok || T == NULL) return NULL;
  if (arg_bytes(env, a[0], "crc64", "state", &st, &stlen)) return NULL;
  if (stlen != 8) { type_error(env, "crc64", "state", "exactly 8 bytes"); return NULL; }
  if (arg_bytes(env, a[1], "crc64", "data", &p, &len)) return NULL;
  if (napi_typeof(env, a[2], &t3) != napi_ok || napi_typeof(env, a[3], &t4) != napi_ok) return NULL;
  if (t3 != napi_undefined && arg_int(env, a[2], "crc64", "offset", 0, (double)len, &off)) return NULL;
  cnt = (double)len - off;
  if (t4 != napi_undefined && arg_int(env, a[3], "crc64", "length", 0, cnt, &cnt)) return NULL;
  len = (size_t)cnt;
  if (len) p += (size_t)off;

  uint64_t crc = 0;
  for (int i = 0; i < 8; i++) crc = (crc << 8) | st[i];
  crc = ~crc;
  const uint64_t (*t)[256] = T->t;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    crc ^= w;
    crc = t[7][crc & 0xff] ^ t[6][(crc >> 8) & 0xff] ^
          t[5][(crc >> 16) & 0xff] ^ t[4][(crc >> 24) & 0xff] ^
          t[3][(crc >> 32) & 0xff] ^ t[2][(crc >> 40) & 0xff] ^
          t[1][(crc >> 48) & 0xff] ^ t[0][crc >> 56];
    p += 8;
    len -= 8;
  }
  while (len--) crc = t[0][(uint8_t)crc ^ *p++] ^ (crc >> 8);
  crc = ~crc;
  for (int i = 7; i >= 0; i--) { st[i] = (uint8_t)crc; crc >>= 8; }
  return NULL;
}

static void free_tables(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  free(data);
}

/* Load a BPF_PROG_TYPE_CGROUP_DEVICE program (instructions as bytes) and attach it to the cgroup v2
 * directory at path (BPF_F_ALLOW_MULTI). The attachment keeps the program alive as long as the cgroup. */
static napi_value js_attach_device_filter(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path = NULL;
  uint8_t *insns;
  size_t len;
  if (arg_str(env, a[0], 0, "attachDeviceFilter", "cgroupDir", &path) != 0) return NULL;
  if (arg_bytes(env, a[1], "attachDeviceFilter", "program", &insns, &len) != 0) { free(path); return NULL; }
  if (len == 0 || len % 8 != 0) { free(path); type_error(env, "attachDeviceFilter", "program", "whole eBPF instructions (8 bytes each)"); return NULL; }
  int cg = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (cg < 0) { throw_errno(env, errno, "open", path); free(path); return NULL; }
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)(len / 8);
  attr.license = (uint64_t)(uintptr_t)"Apache";
  int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (prog < 0) { throw_errno(env, errno, "bpf(BPF_PROG_LOAD)", path); close(cg); free(path); return NULL; }
  memset(&attr, 0, sizeof attr);
  attr.target_fd = (uint32_t)cg;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) != 0) throw_errno(env, errno, "bpf(BPF_PROG_ATTACH)", path);
  close(prog);
  close(cg);
  free(path);
  return NULL;
}

/* spreadSubdirs(dir): set the directory's "top of a hierarchy" flag (FS_TOPDIR_FL, chattr +T), so ext2/3/4's
 * Orlov allocator places each new subdirectory, and the files in it, in a lightly used block group of its own
 * instead of beside the parent. Returns true if the flag is set (or was already), false where the filesystem has
 * no such flag (ENOTTY, EOPNOTSUPP, EINVAL, EPERM); other failures throw. */
static napi_value js_spread_subdirs(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path = NULL;
  napi_value res = NULL;
  if (arg_str(env, a[0], 0, "spreadSubdirs", "dir", &path) != 0) return NULL;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) { throw_errno(env, errno, "open", path); free(path); return NULL; }
  int flags = 0, ok = 1;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) ok = 0;
  else if (!(flags & FS_TOPDIR_FL)) {
    flags |= FS_TOPDIR_FL;
    if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) ok = 0;
  }
  int err = errno;
  close(fd);
  if (!ok && err != ENOTTY && err != EOPNOTSUPP && err != EINVAL && err != EPERM && err != EACCES)
    throw_errno(env, err, "ioctl(FS_IOC_SETFLAGS)", path);
  else napi_get_boolean(env, ok, &res);
  free(path);
  return res;
}

/* ---- inotify, driven by libuv ----------------------------------------------
 * One inotify instance per JS caller (berth keeps one per thread: src/native/inotify.ts), polled by the thread's
 * libuv loop. Events reach JS in batches: callback([wd, mask, name|null, ...]) from a callback scope, so the
 * promises it settles run their reactions at once. The poll handle keeps the loop alive only while JS asks it to
 * (inotifyRef: while something waits). The handle is closed by inotifyClose or, at the latest, when the
 * environment is torn down (a worker's exit). */
typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int closing;
  int handle_closed; /* libuv is done with the handle */
  int finalized;     /* JS is done with the external: the struct is freed once both are */
  napi_ref callback;
  napi_async_context ctx;
  napi_async_cleanup_hook_handle hook;
} inotify_watcher;

static void inotify_freed(uv_handle_t *h) {
  inotify_watcher *w = h->data;
  w->handle_closed = 1;
  if (w->hook != NULL) napi_remove_async_cleanup_hook(w->hook);
  w->hook = NULL;
  if (w->finalized) free(w);
}

/* Stop, close the fd and drop the JS references; the struct goes once libuv has closed the handle. */
static void inotify_shutdown(inotify_watcher *w, int in_teardown) {
  if (w->closing) return;
  w->closing = 1;
  uv_poll_stop(&w->poll);
  close(w->fd);
  w->fd = -1;
  if (!in_teardown) {
    napi_delete_reference(w->env, w->callback);
    napi_async_destroy(w->env, w->ctx);
  }
  uv_close((uv_handle_t *)&w->poll, inotify_freed);
}

static void inotify_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  inotify_watcher *w = arg;
  (void)handle;
  if (w->closing) return;
  inotify_shutdown(w, 1);
}

static void inotify_finalize(napi_env env, void *data, void *hint) {
  inotify_watcher *w = data;
  (void)env; (void)hint;
  w->finalized = 1;
  if (w->handle_closed) free(w);
  else if (!w->closing) inotify_shutdown(w, 1); /* dropped unclosed: inotify_freed frees it */
}

static void inotify_readable(uv_poll_t *p, int status, int events) {
  inotify_watcher *w = p->data;
  (void)events;
  if (w->closing) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value list, fn, recv, v, res;
  uint32_t n = 0;
  napi_create_array(env, &list);
  char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t len = read(w->fd, buf, sizeof buf);
    if (len < 0 && errno == EINTR) continue;
    if (len <= 0) break; /* EAGAIN: drained (a status < 0 from libuv also ends here) */
    for (char *q = buf; q < buf + len;) {
      struct inotify_event *e = (struct inotify_event *)q;
      napi_create_int32(env, e->wd, &v);
      napi_set_element(env, list, n++, v);
      napi_create_uint32(env, e->mask, &v);
      napi_set_element(env, list, n++, v);
      if (e->len > 0) napi_create_string_utf8(env, e->name, NAPI_AUTO_LENGTH, &v);
      else napi_get_null(env, &v);
      napi_set_element(env, list, n++, v);
      q += sizeof *e + e->len;
    }
  }
  (void)status;
  if (n > 0 && napi_get_reference_value(env, w->callback, &fn) == napi_ok && fn != NULL) {
    napi_get_global(env, &recv); /* (napi_make_callback wants an object) */
    if (napi_make_callback(env, w->ctx, recv, fn, 1, &list, &res) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_inotify_open(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  napi_valuetype t;
  napi_value res = NULL, name;
  uv_loop_t *loop;
  if (napi_typeof(env, a[0], &t) != napi_ok) return NULL;
  if (t != napi_function) { type_error(env, "inotifyOpen", "callback", "a function"); return NULL; }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  inotify_watcher *w = calloc(1, sizeof *w);
  if (w == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  w->env = env;
  w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->fd < 0) { throw_errno(env, errno, "inotify_init1", NULL); free(w); return NULL; }
  int r = uv_poll_init(loop, &w->poll, w->fd);
  if (r != 0) { close(w->fd); free(w); throw_errno(env, -r, "uv_poll_init", NULL); return NULL; }
  w->poll.data = w;
  uv_unref((uv_handle_t *)&w->poll);
  napi_create_reference(env, a[0], 1, &w->callback);
  napi_create_string_utf8(env, "berth:inotify", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->ctx);
  r = uv_poll_start(&w->poll, UV_READABLE, inotify_readable);
  if (r != 0) { w->finalized = 1; inotify_shutdown(w, 0); throw_errno(env, -r, "uv_poll_start", NULL); return NULL; }
  napi_add_async_cleanup_hook(env, inotify_teardown, w, &w->hook);
  if (napi_create_external(env, w, inotify_finalize, NULL, &res) != napi_ok) w->finalized = 1;
  return res;
}

static inotify_watcher *arg_watcher(napi_env env, napi_value v, const char *fn) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t != napi_external || napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    type_error(env, fn, "watcher", "an inotifyOpen() handle");
    return NULL;
  }
  inotify_watcher *w = p;
  if (w->closing) { throw_errno(env, EBADF, fn, NULL); return NULL; }
  return w;
}

/* inotifyAdd(watcher, path, mask) -> wd (inotify_add_watch: the same inode gives the same wd). */
static napi_value js_inotify_add(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char *path = NULL;
  double mask;
  napi_value res = NULL;
  inotify_watcher *w = arg_watcher(env, a[0], "inotifyAdd");
  if (w == NULL) return NULL;
  if (arg_str(env, a[1], 0, "inotifyAdd", "path", &path) == 0 && ARG_U32(a[2], "inotifyAdd", "mask", &mask) == 0) {
    int wd = inotify_add_watch(w->fd, path, (uint32_t)mask);
    if (wd < 0) throw_errno(env, errno, "inotify_add_watch", path);
    else napi_create_int32(env, wd, &res);
  }
  free(path);
  return res;
}

/* inotifyRm(watcher, wd) -> false when the kernel had dropped the watch already (EINVAL). */
static napi_value js_inotify_rm(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  double wd;
  napi_value res = NULL;
  inotify_watcher *w = arg_watcher(env, a[0], "inotifyRm");
  if (w == NULL || ARG_I32(a[1], "inotifyRm", "wd", &wd)) return NULL;
  if (inotify_rm_watch(w->fd, (int)wd) == 0) napi_get_boolean(env, true, &res);
  else if (errno == EINVAL) napi_get_boolean(env, false, &res);
  else throw_errno(env, errno, "inotify_rm_watch", NULL);
  return res;
}

/* inotifyRef(watcher, bool): whether the watcher keeps the event loop alive. */
static napi_value js_inotify_ref(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  bool on = false;
  inotify_watcher *w = arg_watcher(env, a[0], "inotifyRef");
  if (w == NULL || napi_get_value_bool(env, a[1], &on) != napi_ok) return NULL;
  if (on) uv_ref((uv_handle_t *)&w->poll);
  else uv_unref((uv_handle_t *)&w->poll);
  return NULL;
}

/* inotifyClose(watcher): stops it and closes its fd (every watch goes with it); again is a no-op. */
static napi_value js_inotify_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, a[0], &t) != napi_ok) return NULL;
  if (t != napi_external || napi_get_value_external(env, a[0], &p) != napi_ok || p == NULL) {
    type_error(env, "inotifyClose", "watcher", "an inotifyOpen() handle");
    return NULL;
  }
  inotify_shutdown(p, 0);
  return NULL;
}

NAPI_MODULE_INIT() {
  crc_tables *T = malloc(sizeof *T);
  if (T == NULL) { napi_throw_error(env, "ENOMEM", "out of memory"); return NULL; }
  for (int i = 0; i < 256; i++) {
    uint64_t c = (uint64_t)i;
    for (int j = 0; j < 8; j++) c = (c & 1) ? (c >> 1) ^ CRC64_ISO : c >> 1;
    T->t[0][i] = c;
  }
  for (int i = 0; i < 256; i++) {
    uint64_t c = T->t[0][i];
    for (int j = 1; j < 8; j++) { c = T->t[0][c & 0xff] ^ (c >> 8); T->t[j][i] = c; }
  }
  if (napi_set_instance_data(env, T, free_tables, NULL) != napi_ok) { free(T); return NULL; }

#define FN(name, cb) { name, NULL, cb, NULL, NULL, NULL, napi_enumerable, NULL }
  napi_property_descriptor props[] = {
    FN("mount", js_mount), FN("fsmount", js_fsmount), FN("mountIn", js_mount_in), FN("umount2", js_umount2), FN("mknod", js_mknod),
    FN("lsetxattr", js_lsetxattr), FN("lgetxattr", js_lgetxattr), FN("lremovexattr", js_lremovexattr),
    FN("llistxattr", js_llistxattr), FN("flock", js_flock), FN("crc64", js_crc64), FN("sha256", js_sha256),
    FN("openTmpfile", js_open_tmpfile), FN("linkFd", js_link_fd), FN("attachDeviceFilter", js_attach_device_filter),
    FN("spreadSubdirs", js_spread_subdirs),
    FN("inotifyOpen", js_inotify_open), FN("inotifyAdd", js_inotify_add), FN("inotifyRm", js_inotify_rm),
    FN("inotifyRef", js_inotify_ref), FN("inotifyClose", js_inotify_close),
    FN("zstdCompress", berth_zstd_compress), FN("gzipCompress", berth_gzip_compress),
  };
#undef FN
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
    return NULL;
  return exports;
}

/*
 * zstdCompress(buf, level, cb): one zstd frame of buf, compressed with Debian's libzstd in
 * libuv's thread pool (napi async work), then cb(null, Buffer) on the event loop, or
 * cb(Error). A push compresses a layer as a sequence of such frames, several at once: a
 * concatenation of zstd frames is one valid zstd stream (RFC 8878 §3.1).
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include "berth_zstd.h"

typedef struct {
  napi_async_work work;
  napi_ref input_ref; /* keeps the input alive while a pool thread reads it */
  napi_ref cb_ref;
  const void *in;
  size_t in_len;
  int level;
  void *out;
  size_t out_len;
  const char *error; /* a static message from ZSTD_getErrorName, or NULL */
} zstd_job;

static void zstd_execute(napi_env env, void *data) {
  (void)env;
  zstd_job *j = data;
  size_t bound = ZSTD_compressBound(j->in_len);
  j->out = malloc(bound > 0 ? bound : 1);
  if (j->out == NULL) {
    j->error = "out of memory";
    return;
  }
  size_t n = ZSTD_compress(j->out, bound, j->in, j->in_len, j->level);
  if (ZSTD_isError(n)) {
    j->error = ZSTD_getErrorName(n);
    return;
  }
  j->out_len = n;
}

static void zstd_complete(napi_env env, napi_status status, void *data) {
  zstd_job *j = data;
  napi_value cb, global, argv[2], undef;
  napi_get_undefined(env, &undef);
  napi_get_global(env, &global);
  napi_get_reference_value(env, j->cb_ref, &cb);
  if (status != napi_ok || j->error != NULL) {
    napi_value msg;
    napi_create_string_utf8(env, j->error ? j->error : "zstd compression was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &argv[0]);
    argv[1] = undef;
  } else {
    void *copy = NULL;
    napi_get_null(env, &argv[0]);
    if (napi_create_buffer_copy(env, j->out_len, j->out, &copy, &argv[1]) != napi_ok) argv[1] = undef;
  }
  free(j->out);
  napi_delete_reference(env, j->input_ref);
  napi_delete_reference(env, j->cb_ref);
  napi_delete_async_work(env, j->work);
  free(j);
  napi_call_function(env, global, cb, 2, argv, NULL);
}

napi_value berth_zstd_compress(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok) return NULL;
  bool is_buf = false;
  napi_valuetype t;
  int32_t level = 0;
  if (argc < 3 || napi_is_buffer(env, a[0], &is_buf) != napi_ok || !is_buf ||
      napi_get_value_int32(env, a[1], &level) != napi_ok || napi_typeof(env, a[2], &t) != napi_ok ||
      t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "zstdCompress(buffer, level, callback)");
    return NULL;
  }
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "zstdCompress: level out of zstd's range");
    return NULL;
  }
  zstd_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  void *p = NULL;
  napi_get_buffer_info(env, a[0], &p, &j->in_len);
  j->in = p;
  j->level = level;
  napi_value name;
  napi_create_string_utf8(env, "berth:zstd", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, a[0], 1, &j->input_ref) != napi_ok ||
      napi_create_reference(env, a[2], 1, &j->cb_ref) != napi_ok ||
      napi_create_async_work(env, NULL, name, zstd_execute, zstd_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_throw_error(env, "EZSTD", "zstdCompress: could not queue the work");
    return NULL;
  }
  return NULL;
}

/*
 * One block of a stream compressed in libuv's thread pool (napi async work), then cb(null, Buffer)
 * on the event loop, or cb(Error):
 *   zstdCompress(buf, level, cb): one zstd frame, Debian's libzstd;
 *   gzipCompress(buf, level, cb): one gzip member (RFC 1952), Debian's libdeflate (whole-buffer
 *     DEFLATE, 2-3x zlib's speed at its fastest levels, and smaller output than zlib's level 1).
 * A push compresses a layer as a sequence of such blocks, several at once: concatenated zstd
 * frames are one valid zstd stream (RFC 8878 §3.1), concatenated gzip members one gzip stream.
 */
#include <node_api.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include "berth_compress.h"

enum format { FMT_ZSTD, FMT_GZIP };

typedef struct {
  napi_async_work work;
  napi_ref input_ref; /* keeps the input alive while a pool thread reads it */
  napi_ref cb_ref;
  enum format format;
  const void *in;
  size_t in_len;
  int level;
  void *out;
  size_t out_len;
  const char *error; /* a static message, or NULL */
} compress_job;

/* One libdeflate compressor per pool thread and level, kept for the thread's life (pool threads
 * live as long as the process): allocating one per block would cost more than small blocks. */
static __thread struct libdeflate_compressor *tl_deflate;
static __thread int tl_deflate_level;

static void run_zstd(compress_job *j) {
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

static void run_gzip(compress_job *j) {
  if (tl_deflate == NULL || tl_deflate_level != j->level) {
    if (tl_deflate != NULL) libdeflate_free_compressor(tl_deflate);
    tl_deflate = libdeflate_alloc_compressor(j->level);
    tl_deflate_level = j->level;
    if (tl_deflate == NULL) {
      j->error = "out of memory (libdeflate compressor)";
      return;
    }
  }
  size_t bound = libdeflate_gzip_compress_bound(tl_deflate, j->in_len);
  j->out = malloc(bound);
  if (j->out == NULL) {
    j->error = "out of memory";
    return;
  }
  size_t n = libdeflate_gzip_compress(tl_deflate, j->in, j->in_len, j->out, bound);
  if (n == 0) {
    j->error = "gzip: libdeflate's output did not fit its own bound";
    return;
  }
  j->out_len = n;
}

static void compress_execute(napi_env env, void *data) {
  (void)env;
  compress_job *j = data;
  if (j->format == FMT_ZSTD)
    run_zstd(j);
  else
    run_gzip(j);
  /* the buffer given out keeps this memory: give back what the bound reserved beyond the output */
  if (j->error == NULL && j->out_len > 0) {
    void *shrunk = realloc(j->out, j->out_len);
    if (shrunk != NULL) j->out = shrunk;
  }
}

static void free_output(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void compress_complete(napi_env env, napi_status status, void *data) {
  compress_job *j = data;
  napi_value cb, global, argv[2], undef;
  napi_get_undefined(env, &undef);
  napi_get_global(env, &global);
  napi_get_reference_value(env, j->cb_ref, &cb);
  if (status != napi_ok || j->error != NULL) {
    napi_value msg;
    napi_create_string_utf8(env, j->error ? j->error : "compression was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &argv[0]);
    argv[1] = undef;
  } else {
    /* the output is handed over, not copied: the buffer frees it when collected */
    napi_get_null(env, &argv[0]);
    if (napi_create_external_buffer(env, j->out_len, j->out, free_output, NULL, &argv[1]) == napi_ok)
      j->out = NULL;
    else
      argv[1] = undef;
  }
  free(j->out);
  napi_delete_reference(env, j->input_ref);
  napi_delete_reference(env, j->cb_ref);
  napi_delete_async_work(env, j->work);
  free(j);
  napi_call_function(env, global, cb, 2, argv, NULL);
}

static napi_value queue(napi_env env, napi_callback_info info, enum format format) {
  const char *usage = format == FMT_ZSTD ? "zstdCompress(buffer, level, callback)" : "gzipCompress(buffer, level, callback)";
  size_t argc = 3;
  napi_value a[3];
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok) return NULL;
  bool is_buf = false;
  napi_valuetype t;
  int32_t level = 0;
  if (argc < 3 || napi_is_buffer(env, a[0], &is_buf) != napi_ok || !is_buf ||
      napi_get_value_int32(env, a[1], &level) != napi_ok || napi_typeof(env, a[2], &t) != napi_ok ||
      t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  bool in_range = format == FMT_ZSTD ? level >= ZSTD_minCLevel() && level <= ZSTD_maxCLevel()
                                     : level >= 0 && level <= 12; /* libdeflate's levels */
  if (!in_range) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           format == FMT_ZSTD ? "zstdCompress: level out of zstd's range"
                                              : "gzipCompress: level out of libdeflate's range (0-12)");
    return NULL;
  }
  compress_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  void *p = NULL;
  napi_get_buffer_info(env, a[0], &p, &j->in_len);
  j->in = p;
  j->level = level;
  j->format = format;
  napi_value name;
  napi_create_string_utf8(env, format == FMT_ZSTD ? "berth:zstd" : "berth:gzip", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, a[0], 1, &j->input_ref) != napi_ok ||
      napi_create_reference(env, a[2], 1, &j->cb_ref) != napi_ok ||
      napi_create_async_work(env, NULL, name, compress_execute, compress_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_throw_error(env, "ECOMPRESS", "could not queue the compression");
    return NULL;
  }
  return NULL;
}

napi_value berth_zstd_compress(napi_env env, napi_callback_info info) { return queue(env, info, FMT_ZSTD); }

napi_value berth_gzip_compress(napi_env env, napi_callback_info info) { return queue(env, info, FMT_GZIP); }

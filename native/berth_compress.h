#ifndef BERTH_COMPRESS_H
#define BERTH_COMPRESS_H
#include <node_api.h>
/* zstdCompress / gzipCompress(buffer, level, callback): see berth_compress.c. */
napi_value berth_zstd_compress(napi_env env, napi_callback_info info);
napi_value berth_gzip_compress(napi_env env, napi_callback_info info);
#endif

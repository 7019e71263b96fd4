#ifndef BERTH_ZSTD_H
#define BERTH_ZSTD_H
#include <node_api.h>
/* zstdCompress(buffer, level, callback): see berth_zstd.c. */
napi_value berth_zstd_compress(napi_env env, napi_callback_info info);
#endif

{
  "targets": [
    {
      "target_name": "berth_native",
      "sources": [
        "berth_native.c",
        "berth_compress.c"
      ],
      "libraries": [
        "-lzstd",
        "-ldeflate"
      ],
      "defines": [
        "NAPI_VERSION=8"
      ],
      "cflags!": [
        "-O3"
      ],
      "cflags": [
        "-O2",
        "-std=gnu11"
      ],
      "configurations": {
        "Release": {
          "cflags!": [
            "-O3"
          ],
          "cflags": [
            "-O2"
          ]
        }
      }
    },
    {
      "target_name": "berth-helper",
      "type": "executable",
      "sources": [
        "helper/berth-helper.c",
        "helper/plan.c",
        "helper/steps.c",
        "helper/monitor.c",
        "helper/tty.c",
        "helper/health.c",
        "helper/events.c"
      ],
      "cflags!": [
        "-O3"
      ],
      "cflags": [
        "-O2",
        "-std=gnu11",
        "-Wall"
      ],
      "configurations": {
        "Release": {
          "cflags!": [
            "-O3"
          ],
          "cflags": [
            "-O2"
          ]
        }
      }
    },
    {
      "target_name": "berth-launcher",
      "type": "executable",
      "sources": [
        "launcher/berth-launcher.c"
      ],
      "cflags!": [
        "-O3"
      ],
      "cflags": [
        "-O2",
        "-std=gnu11",
        "-Wall"
      ],
      "configurations": {
        "Release": {
          "cflags!": [
            "-O3"
          ],
          "cflags": [
            "-O2"
          ]
        }
      }
    }
  ]
}

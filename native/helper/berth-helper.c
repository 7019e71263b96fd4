/*
 * berth-helper: executes a container plan that berth (TypeScript) wrote, and
 * stays as the container's monitor. It makes no decisions: every path, flag,
 * id and argument comes from the plan. On failure it reports which step failed
 * and the errno on the status fd, then exits 125 (126/127 when exec fails with
 * EACCES/ENOENT, as Docker reports them).
 *
 * Bind mounts: the source tree is cloned (open_tree) before pivot_root and
 * attached (move_mount) after it, so every target path resolves inside the
 * container's root and a symlink in the image cannot aim a mount at the host.
 *
 * fd 3: the plan, a sequence of records; each record is netstrings
 *       "op", "argc", then argc arguments ("5:mount,1:5,..."). Read to EOF.
 * fd 4: status (optional): "pid <n>\n" from the monitor after fork, or
 *       "error <step> <op> <ERRNO> <detail>\n" from the failing process.
 *       Close-on-exec in the container process: EOF means exec succeeded.
 *
 * plan.c reads the plan and dispatches each step through a table; steps.c holds
 * the container set-up steps, monitor.c (with tty.c and health.c) the monitor.
 */
#include "helper.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int main(void) {
  if (fcntl(STATUS_FD, F_GETFD) >= 0) {
    status_fd = STATUS_FD;
    fcntl(status_fd, F_SETFD, FD_CLOEXEC);
  }
  parent_pid = getppid();
  plan_init();
  run_steps();
  fail(EINVAL, "plan ended without exec");
}

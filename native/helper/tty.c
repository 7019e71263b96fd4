/*
 * Terminals: the container's pty lives in its own devpts; the container sends
 * the master to its monitor (step_pty), which relays it to the user's terminal.
 */
#include "helper.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

int recv_fd(int sock) {
  char dummy;
  struct iovec iov = {&dummy, 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

void send_fd(int sock, int fd) {
  char dummy = 0;
  struct iovec iov = {&dummy, 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(sock, &msg, 0) < 0) fail(errno, "send pty");
}

static void copy_winsize(int from, int to) {
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

/*
 * Relay between our stdio (the user's terminal, in raw mode) and the pty master
 * until the container closes it. Returns 1 when the user's side hung up.
 */
/* healthchecks also run while a foreground container's terminal is relayed */
int relay_tty(int master) {
  int hangup = 0;
  struct termios saved;
  int raw = isatty(0) && tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
  }
  int wsrc = isatty(0) ? 0 : 1; /* -t without -i: the size comes from stdout's terminal */
  copy_winsize(wsrc, master);
  int in_open = 1;
  char buf[32768];
  for (;;) {
    if (winch) { winch = 0; copy_winsize(wsrc, master); }
    int timeout = health_tick();
    struct pollfd p[3] = {{master, POLLIN, 0}, {health_fd, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}};
    int n = poll(p, 3, timeout);
    if (n < 0) { if (errno == EINTR) continue; break; }
    if (health_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) health_read();
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r <= 0) { if (r < 0 && errno == EINTR) continue; break; } /* EIO: the container side is closed */
      if (write_all(1, buf, r) < 0) { hangup = 1; break; }
    }
    if (in_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      /* the user's terminal is gone: EIO, or EOF on a raw terminal (where ^D is just a byte) */
      if ((r < 0 && errno == EIO) || (r == 0 && raw)) { hangup = 1; break; }
      if (r <= 0) { in_open = 0; continue; }
      if (write_all(master, buf, r) < 0) in_open = 0;
    }
  }
  if (raw) tcsetattr(0, TCSANOW, &saved);
  return hangup;
}

/* In the container, after /dev/pts is mounted: a pty of its own devpts becomes the controlling terminal and stdio. */
void step_pty(char **a, long argc) {
  (void)a;
  int console = argc == 0; /* "pty noconsole": an exec's terminal is not the container's console */
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail(errno, "/dev/ptmx");
  if (grantpt(master) < 0 || unlockpt(master) < 0) fail(errno, "unlockpt");
  char name[128];
  if (ptsname_r(master, name, sizeof name) != 0) fail(errno, "ptsname");
  int slave = open(name, O_RDWR | O_NOCTTY);
  if (slave < 0) fail(errno, name);
  if (tty_sock[1] < 0) fail(EINVAL, "pty without a terminal monitor");
  send_fd(tty_sock[1], master);
  close(master);
  close(tty_sock[1]);
  if (setsid() < 0) fail(errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0) fail(errno, "TIOCSCTTY");
  for (int fd = 0; fd < 3; fd++) if (dup2(slave, fd) < 0) fail(errno, "dup2");
  if (!console) { if (slave > 2) close(slave); return; }
  /* /dev/console is the container's terminal, as runc sets it up */
  int c = open("/dev/console", O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (c >= 0) close(c);
  if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0) fail(errno, "/dev/console");
  if (slave > 2) close(slave);
}


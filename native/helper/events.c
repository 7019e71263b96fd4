/*
 * Events the monitor writes itself (die, the start of a restart by policy,
 * health_status), berth's Node process being gone while a detached container
 * runs. TypeScript gives the journal's path, the container's ID and the
 * event's fixed attributes (a JSON object body, already escaped); the helper
 * adds the action, the attributes only it knows (exitCode) and the time, and
 * appends the line with one write on an O_APPEND descriptor, so that lines of
 * concurrent writers never interleave. The file is opened for each event:
 * berth rotates the journal, and a line goes to the file at the path now.
 */
#include "helper.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *journal_path = NULL, *event_id = NULL, *event_attrs = NULL;

/* event-journal PATH ID ATTRS */
static void step_event_journal(char **a, long argc) {
  (void)argc;
  journal_path = a[0];
  event_id = a[1];
  event_attrs = a[2];
}

void event_emit(const char *action, const char *extra) {
  if (!journal_path) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  size_t cap = strlen(event_attrs) + strlen(event_id) + strlen(action) + (extra ? strlen(extra) : 0) + 256;
  char *b = malloc(cap);
  if (!b) return;
  const char *sep = event_attrs[0] && extra && extra[0] ? "," : "";
  int n = snprintf(b, cap,
    "{\"Type\":\"container\",\"Action\":\"%s\",\"Actor\":{\"ID\":\"%s\",\"Attributes\":{%s%s%s}},\"scope\":\"local\",\"time\":%lld,\"timeNano\":%lld%09ld}\n",
    action, event_id, event_attrs, sep, extra ? extra : "", (long long)ts.tv_sec, (long long)ts.tv_sec, ts.tv_nsec);
  int fd = open(journal_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0 && n > 0 && (size_t)n < cap) { ssize_t w = write(fd, b, (size_t)n); (void)w; }
  if (fd >= 0) close(fd);
  free(b);
}

const struct step event_steps[] = {
  {"event-journal", 3, 3, NULL, step_event_journal},
};
const size_t n_event_steps = sizeof event_steps / sizeof event_steps[0];

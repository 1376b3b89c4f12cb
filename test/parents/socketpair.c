/* test/parents/socketpair.c: a C parent that gives tlsify ONE socket as both stdin and stdout.
 *
 * One end of a socketpair goes to the child as fd 0 and fd 1 (posix_spawn_file_actions_adddup2);
 * on the other end the parent writes the request, half-closes (shutdown SHUT_WR) and reads the
 * reply until EOF: the way inetd-style programs and many event loops talk to a helper.
 *
 * Usage: socketpair TLSIFY HOST:PORT CAFILE REQUEST EXPECTED-REPLY
 * Prints what it got; exits 0 only if the reply and tlsify's exit status 0 both match.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what) {
  fprintf(stderr, "socketpair: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("write");
    buf += n;
    len -= (size_t)n;
  }
}

static size_t read_all(int fd, char *buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    if (len + 1 >= cap) break;
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read reply");
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  return len;
}

static void cloexec(int fd) {
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) die("fcntl FD_CLOEXEC");
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: socketpair TLSIFY HOST:PORT CAFILE REQUEST EXPECTED-REPLY\n");
    return 2;
  }
  const char *tlsify = argv[1], *target = argv[2], *ca = argv[3], *request = argv[4], *expected = argv[5];
  signal(SIGPIPE, SIG_IGN); /* a dead child shows as EPIPE and its exit status, not our death */

  int sv[2]; /* sv[0] is ours, sv[1] becomes the child's stdin and stdout */
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) die("socketpair");
  cloexec(sv[0]), cloexec(sv[1]); /* only the dup2 copies on 0 and 1 pass to the child */

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 0);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 1);
  posix_spawnattr_t attr; /* SIG_IGN survives exec: give the child SIGPIPE's default back */
  posix_spawnattr_init(&attr);
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &pipe_only);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

  char *child_argv[] = {(char *)tlsify, "connect", (char *)target, "--ca", (char *)ca, NULL};
  pid_t pid;
  int err = posix_spawn(&pid, tlsify, &actions, &attr, child_argv, environ);
  if (err != 0) {
    errno = err;
    die("posix_spawn");
  }
  close(sv[1]); /* else our own copy would keep the child's end open and EOF would never come */

  write_all(sv[0], request, strlen(request));
  if (shutdown(sv[0], SHUT_WR) < 0) die("shutdown"); /* tlsify reads EOF and sends close_notify */
  char reply[4096];
  read_all(sv[0], reply, sizeof reply);
  close(sv[0]);
  int wstatus;
  while (waitpid(pid, &wstatus, 0) < 0)
    if (errno != EINTR) die("waitpid");
  int status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);

  printf("reply: %s", reply);
  printf("tlsify status: %d\n", status);
  int ok = 1;
  if (strcmp(reply, expected) != 0) {
    fprintf(stderr, "socketpair: expected the reply '%s', got '%s'\n", expected, reply);
    ok = 0;
  }
  if (status != 0) {
    fprintf(stderr, "socketpair: expected tlsify exit status 0, got %d\n", status);
    ok = 0;
  }
  return ok ? 0 : 1;
}

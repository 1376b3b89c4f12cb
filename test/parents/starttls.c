/* test/parents/starttls.c: a C parent that hands tlsify a socket it already talked on (STARTTLS).
 *
 * It connects to 127.0.0.1:PORT, reads "220 ready", sends "STARTTLS", reads "220 go ahead", then
 * posix_spawns `tlsify connect localhost --net-fd N --ca CAFILE` with the socket as fd N. The
 * request goes to tlsify's stdin, then EOF; the reply is read from its stdout until EOF.
 *
 * Usage: starttls TLSIFY PORT CAFILE REQUEST EXPECTED-REPLY
 * Prints what it got; exits 0 only if the dialogue, the reply and tlsify's exit status 0 all match.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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
  fprintf(stderr, "starttls: %s: %s\n", what, strerror(errno));
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

/* One byte at a time up to LF: a buffered read could swallow the first TLS bytes after it. */
static void read_line(int fd, char *buf, size_t cap) {
  size_t len = 0;
  while (len + 1 < cap) {
    ssize_t n = read(fd, buf + len, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read line");
    if (n == 0) break;
    if (buf[len++] == '\n') break;
  }
  buf[len] = '\0';
}

static void expect_line(int fd, const char *want) {
  char got[256];
  read_line(fd, got, sizeof got);
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "starttls: expected the server line '%s', got '%s'\n", want, got);
    exit(1);
  }
  printf("server: %s", got);
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

static int dial(const char *port) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(port));
  if (inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr) != 1) die("inet_pton");
  int sock = socket(AF_INET, SOCK_STREAM, 0);
  if (sock < 0) die("socket");
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
  return sock;
}

/* The socket as tlsify will see it: inheritable, and on fd 4 or above. Fds 0-2 are stdio, and
 * fd 3 is tlsify's control channel by default: an open fd 3 would be taken for one. */
static int hand_over(int sock) {
  int fd = fcntl(sock, F_DUPFD, 4); /* F_DUPFD leaves FD_CLOEXEC clear: inherited by the child */
  if (fd < 0) die("fcntl F_DUPFD");
  close(sock);
  return fd;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: starttls TLSIFY PORT CAFILE REQUEST EXPECTED-REPLY\n");
    return 2;
  }
  const char *tlsify = argv[1], *ca = argv[3], *request = argv[4], *expected = argv[5];
  signal(SIGPIPE, SIG_IGN); /* a dead child shows as EPIPE and its exit status, not our death */

  int sock = dial(argv[2]);
  expect_line(sock, "220 ready\r\n");
  write_all(sock, "STARTTLS\r\n", 10);
  expect_line(sock, "220 go ahead\r\n");
  int net = hand_over(sock);

  int in[2], out[2];
  if (pipe(in) < 0 || pipe(out) < 0) die("pipe");
  cloexec(in[0]), cloexec(in[1]), cloexec(out[0]), cloexec(out[1]); /* only the dup2 copies pass */

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawnattr_t attr; /* SIG_IGN survives exec: give the child SIGPIPE's default back */
  posix_spawnattr_init(&attr);
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &pipe_only);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

  char fd_arg[16];
  snprintf(fd_arg, sizeof fd_arg, "%d", net);
  char *child_argv[] = {(char *)tlsify, "connect", "localhost", "--net-fd", fd_arg, "--ca", (char *)ca, NULL};
  pid_t pid;
  int err = posix_spawn(&pid, tlsify, &actions, &attr, child_argv, environ);
  if (err != 0) {
    errno = err;
    die("posix_spawn");
  }
  close(in[0]);
  close(out[1]);
  close(net); /* tlsify owns the connection now */

  write_all(in[1], request, strlen(request));
  close(in[1]); /* stdin EOF: tlsify sends close_notify after the request */
  char reply[4096];
  read_all(out[0], reply, sizeof reply);
  close(out[0]);
  int wstatus;
  while (waitpid(pid, &wstatus, 0) < 0)
    if (errno != EINTR) die("waitpid");
  int status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);

  printf("reply: %s", reply);
  printf("tlsify status: %d\n", status);
  int ok = 1;
  if (strcmp(reply, expected) != 0) {
    fprintf(stderr, "starttls: expected the reply '%s', got '%s'\n", expected, reply);
    ok = 0;
  }
  if (status != 0) {
    fprintf(stderr, "starttls: expected tlsify exit status 0, got %d\n", status);
    ok = 0;
  }
  return ok ? 0 : 1;
}

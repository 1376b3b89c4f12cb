/* native/fdpass.c: recvFd(fd), one descriptor received over a unix stream socket: one byte of
 * payload carrying one SCM_RIGHTS control message (unix(7), cmsg(3)); Node core cannot do it.
 * N-API only (node_api.h, NAPI_VERSION 8): one build loads in every Node from 20 on. */
#define _GNU_SOURCE /* MSG_CMSG_CLOEXEC, strerrorname_np */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXPECTED "recvmsg: expected one byte with one descriptor (SCM_RIGHTS), got "

/* The client broke the hand-off protocol; JS maps this code to `usage`, errno names to `connect`. */
static const char PROTOCOL[] = "ERR_FDPASS_PROTOCOL";

static napi_value fail(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

/* "recvmsg: ECONNRESET (Connection reset by peer)", code ECONNRESET. */
static napi_value fail_errno(napi_env env, int err) {
  char name[32], message[160];
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  const char *known = strerrorname_np(err);
  snprintf(name, sizeof name, "%s", known != NULL ? known : "EUNKNOWN");
#else
  snprintf(name, sizeof name, "errno %d", err);
#endif
  snprintf(message, sizeof message, "recvmsg: %s (%s)", name, strerror(err));
  return fail(env, name, message);
}

/* recvFd(fd: number): number | null. One non-blocking recvmsg(2) of at most one byte. */
static napi_value recv_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t sock;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0) {
    napi_throw_type_error(env, NULL, "recvFd: expected a descriptor number >= 0");
    return NULL;
  }

  char byte;
  struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
  /* Room for one int; the union aligns the buffer for struct cmsghdr (cmsg(3)). */
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = { 0 };
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;

  /* MSG_CMSG_CLOEXEC: the received fd is close-on-exec from birth, never inherited by a child. */
  ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
      napi_value null;
      return napi_get_null(env, &null) == napi_ok ? null : NULL;
    }
    return fail_errno(env, err);
  }

  /* Keep the first descriptor, close every other one now: nothing received may leak. */
  int fd = -1, count = 0, foreign = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      foreign = 1;
      continue;
    }
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (fd < 0) fd = got;
      else close(got);
      count++;
    }
  }

  const char *why = NULL;
  char buf[160];
  if (msg.msg_flags & MSG_CTRUNC) {
    /* Linux also sets it when installing the fds failed (EMFILE): they were closed by the kernel. */
    why = EXPECTED "more than fit (MSG_CTRUNC: too many descriptors, or this process is out of them)";
  } else if (count > 1) {
    snprintf(buf, sizeof buf, EXPECTED "%d descriptors", count);
    why = buf;
  } else if (foreign) {
    why = EXPECTED "another kind of control message";
  } else if (n == 0) {
    why = EXPECTED "EOF";
  } else if (fd < 0) {
    why = EXPECTED "a byte with no descriptor";
  }
  if (why != NULL) {
    if (fd >= 0) close(fd);
    return fail(env, PROTOCOL, why);
  }

  napi_value result;
  if (napi_create_int32(env, fd, &result) != napi_ok) {
    close(fd);
    return fail(env, NULL, "recvFd: napi_create_int32 failed");
  }
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "recvFd", NAPI_AUTO_LENGTH, recv_fd, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "recvFd", fn) != napi_ok) {
    napi_throw_error(env, NULL, "fdpass: could not export recvFd");
    return NULL;
  }
  return exports;
}

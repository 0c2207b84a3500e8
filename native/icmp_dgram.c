/*
 * ICMP echo over Linux ICMP datagram sockets ("ping sockets"), for src/probe/icmp-dgram.ts.
 *
 * socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and its IPv6 twin need no capability: the
 * kernel allows them when the process's group lies in net.ipv4.ping_group_range (one
 * sysctl, per network namespace, for both families), and refuses them with EACCES
 * otherwise. The kernel writes the echo identifier (the socket's "port") and the
 * checksum, and hands each socket only the replies to its own identifier, so two
 * exporters on one host never take each other's answers. net-ping's raw-socket opens
 * SOCK_RAW only (SOCK_DGRAM on macOS alone), hence this file.
 *
 * The round trip is measured as iputils ping does: the send time (CLOCK_REALTIME, read
 * just before sendto) travels in the echo payload, and the kernel stamps the reply when
 * it arrives (SO_TIMESTAMPNS, the same clock). Neither stamp waits for the event loop,
 * so a 0.1 ms echo reads 0.1 ms however busy the process is.
 *
 * IP_RECVERR/IPV6_RECVERR queue ICMP errors about our echoes (destination unreachable
 * from a router on the way) with the echo that caused them, so they are matched to the
 * request by sequence number. A queued error makes the socket report POLLERR, on which
 * libuv stops the poll handle and calls back with UV_EBADF: the callback drains the
 * error queue, clears SO_ERROR and starts the poll again.
 *
 * JS API (one object per socket):
 *   open(family 4|6, onMessage) -> socket; throws an Error with .code (EACCES, ...),
 *                                .syscall, and strerror's words as its message
 *   socket.send(ip, seq)         throws the same kind of Error when sendto fails
 *   socket.close()
 *   onMessage(kind, seq, rttNs, icmpType, icmpCode, address)
 *     kind 0: an echo reply; rttNs from the two timestamps, -1 when the kernel gave none
 *     kind 1: an ICMP error about our echo seq, from address (the router that sent it)
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#endif

#define CHECK(call)                                                                      \
  do {                                                                                   \
    if ((call) != napi_ok) return NULL;                                                  \
  } while (0)

typedef struct {
  int fd;
  int family;
  uv_poll_t poll;
  int polling;
  napi_env env;
  napi_ref callback;
  napi_ref self;
  napi_async_context async;
} Pinger;

/* Echo payload: the send time, then padding to a 16-byte payload as ping's default. */
typedef struct {
  int64_t sec;
  int64_t nsec;
} SendStamp;

static napi_value throw_errno(napi_env env, int err, const char* syscall) {
  napi_value message, code, error;
  char text[160];
  snprintf(text, sizeof text, "%s", strerror(err));
  static const struct {
    int err;
    const char* name;
  } names[] = {
      {EACCES, "EACCES"},          {EPERM, "EPERM"},
      {EAFNOSUPPORT, "EAFNOSUPPORT"}, {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
      {EHOSTUNREACH, "EHOSTUNREACH"}, {ENETUNREACH, "ENETUNREACH"},
      {ENETDOWN, "ENETDOWN"},      {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
      {EINVAL, "EINVAL"},          {EMFILE, "EMFILE"},
      {ENFILE, "ENFILE"},          {ENOBUFS, "ENOBUFS"},
      {EAGAIN, "EAGAIN"},          {EBADF, "EBADF"},
      {EMSGSIZE, "EMSGSIZE"},      {ENOSYS, "ENOSYS"},
  };
  const char* name = "ERRNO";
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (names[i].err == err) name = names[i].name;
  }
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_value errno_value;
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_value syscall_value;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

#ifdef __linux__

static void deliver(Pinger* p, int kind, int seq, double rtt_ns, int type, int code,
                    const char* address) {
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, self, argv[6], result;
  if (p->callback != NULL && napi_get_reference_value(env, p->callback, &callback) == napi_ok &&
      napi_get_reference_value(env, p->self, &self) == napi_ok && callback != NULL) {
    napi_create_int32(env, kind, &argv[0]);
    napi_create_int32(env, seq, &argv[1]);
    napi_create_double(env, rtt_ns, &argv[2]);
    napi_create_int32(env, type, &argv[3]);
    napi_create_int32(env, code, &argv[4]);
    napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &argv[5]);
    /* make_callback, not call_function: promises resolved in the callback settle now. */
    napi_make_callback(env, p->async, self, callback, 6, argv, &result);
  }
  napi_close_handle_scope(env, scope);
}

static void format_address(const struct sockaddr_storage* from, char* out, size_t size) {
  out[0] = '\0';
  if (from->ss_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in*)from)->sin_addr, out, size);
  } else if (from->ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &((const struct sockaddr_in6*)from)->sin6_addr, out, size);
  }
}

static void read_replies(Pinger* p) {
  for (;;) {
    unsigned char packet[512];
    union {
      char buf[CMSG_SPACE(sizeof(struct timespec)) + 64];
      struct cmsghdr align;
    } control;
    struct sockaddr_storage from;
    struct iovec iov = {packet, sizeof packet};
    struct msghdr msg = {0};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct timespec reading;
    clock_gettime(CLOCK_REALTIME, &reading);
    ssize_t n = recvmsg(p->fd, &msg, MSG_DONTWAIT);
    if (n < 0) return; /* EAGAIN: drained; other errors surface as POLLERR */
    if (n < 8 + (ssize_t)sizeof(SendStamp)) continue;
    int reply_type = p->family == 4 ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
    if (packet[0] != reply_type) continue;
    int seq = (packet[6] << 8) | packet[7];

    double rtt_ns = -1;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec received;
        SendStamp sent;
        memcpy(&received, CMSG_DATA(c), sizeof received);
        memcpy(&sent, packet + 8, sizeof sent);
        double ns = ((double)received.tv_sec - (double)sent.sec) * 1e9 +
                    ((double)received.tv_nsec - (double)sent.nsec);
        /*
         * The kernel turns receive timestamps on for the whole system through deferred
         * work the first time a socket asks; a packet that arrives before that work ran
         * is stamped when it is read, which is no arrival time. A stamp taken after this
         * recvmsg began is that case (or a packet that arrived just now, which the
         * caller's own clock times as well). A clock step makes ns negative. In both
         * cases the caller times it instead.
         */
        int stamped_on_read = received.tv_sec > reading.tv_sec ||
                              (received.tv_sec == reading.tv_sec && received.tv_nsec >= reading.tv_nsec);
        if (ns >= 0 && !stamped_on_read) rtt_ns = ns;
      }
    }
    char address[INET6_ADDRSTRLEN];
    format_address(&from, address, sizeof address);
    deliver(p, 0, seq, rtt_ns, packet[0], packet[1], address);
  }
}

static void read_errors(Pinger* p) {
  for (;;) {
    unsigned char packet[512];
    union {
      char buf[512];
      struct cmsghdr align;
    } control;
    struct sockaddr_storage to;
    struct iovec iov = {packet, sizeof packet};
    struct msghdr msg = {0};
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n = recvmsg(p->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) break;
    /* The queued packet is our own echo request: its sequence names the request. */
    if (n < 8) continue;
    int seq = (packet[6] << 8) | packet[7];
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      int is_v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
      int is_v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if (!is_v4 && !is_v6) continue;
      struct sock_extended_err err;
      memcpy(&err, CMSG_DATA(c), sizeof err);
      if (err.ee_origin != SO_EE_ORIGIN_ICMP && err.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
      struct sockaddr_storage offender;
      memset(&offender, 0, sizeof offender);
      size_t room = c->cmsg_len - CMSG_LEN(sizeof err);
      size_t take = room < sizeof offender ? room : sizeof offender;
      memcpy(&offender, (unsigned char*)CMSG_DATA(c) + sizeof err, take);
      char address[INET6_ADDRSTRLEN];
      format_address(&offender, address, sizeof address);
      deliver(p, 1, seq, -1, err.ee_type, err.ee_code, address);
    }
  }
  /* A plain socket error (sk_err) is set beside the queue entry; reading clears it. */
  int pending = 0;
  socklen_t length = sizeof pending;
  getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &pending, &length);
}

static void on_poll(uv_poll_t* handle, int status, int events) {
  Pinger* p = (Pinger*)handle->data;
  if (p->fd < 0) return;
  if (status < 0) {
    /* POLLERR: libuv has stopped the handle. Drain what raised it, then poll again. */
    read_errors(p);
    read_replies(p);
    if (p->fd >= 0 && uv_poll_start(&p->poll, UV_READABLE, on_poll) == 0) {
      uv_unref((uv_handle_t*)&p->poll);
    }
    return;
  }
  if (events & UV_READABLE) read_replies(p);
}

static napi_value js_send(napi_env env, napi_callback_info info);
static napi_value js_close(napi_env env, napi_callback_info info);

static void on_closed(uv_handle_t* handle) { free(handle->data); }

static void shut(Pinger* p) {
  if (p->fd < 0) return;
  if (p->polling) uv_poll_stop(&p->poll);
  close(p->fd);
  p->fd = -1;
  napi_env env = p->env;
  if (p->callback != NULL) {
    napi_delete_reference(env, p->callback);
    p->callback = NULL;
  }
}

static void finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  Pinger* p = (Pinger*)data;
  shut(p);
  if (p->async != NULL) napi_async_destroy(env, p->async);
  if (p->polling) {
    uv_close((uv_handle_t*)&p->poll, on_closed);
  } else {
    free(p);
  }
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t family = 0;
  CHECK(napi_get_value_int32(env, argv[0], &family));
  napi_valuetype kind;
  CHECK(napi_typeof(env, argv[1], &kind));
  if ((family != 4 && family != 6) || kind != napi_function) {
    napi_throw_type_error(env, NULL, "open(family 4 or 6, onMessage)");
    return NULL;
  }

  int domain = family == 4 ? AF_INET : AF_INET6;
  int protocol = family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return throw_errno(env, errno, "socket");
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0 ||
      (family == 4 ? setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof on)
                   : setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on)) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt");
  }

  Pinger* p = (Pinger*)calloc(1, sizeof *p);
  if (p == NULL) {
    close(fd);
    return throw_errno(env, ENOBUFS, "calloc");
  }
  p->fd = fd;
  p->family = family;
  p->env = env;
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &p->poll, fd) != 0) {
    close(fd);
    free(p);
    return throw_errno(env, ENOSYS, "uv_poll_init");
  }
  p->poll.data = p;
  p->polling = 1;
  uv_poll_start(&p->poll, UV_READABLE, on_poll);
  /* The pings' own timers keep the process alive while an answer is awaited. */
  uv_unref((uv_handle_t*)&p->poll);

  CHECK(napi_create_object(env, &self));
  napi_property_descriptor methods[] = {
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, self, 2, methods));
  CHECK(napi_create_reference(env, argv[1], 1, &p->callback));
  CHECK(napi_create_reference(env, self, 0, &p->self));
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "IcmpDatagramSocket", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, self, resource_name, &p->async));
  CHECK(napi_wrap(env, self, p, finalize, NULL, NULL));
  return self;
}

static Pinger* unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return (Pinger*)data;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Pinger* p = unwrap(env, info, &argc, argv);
  if (p == NULL || argc < 2) {
    napi_throw_type_error(env, NULL, "send(ip, seq)");
    return NULL;
  }
  if (p->fd < 0) return throw_errno(env, EBADF, "send");
  char ip[INET6_ADDRSTRLEN + 1];
  size_t length;
  CHECK(napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &length));
  int32_t seq;
  CHECK(napi_get_value_int32(env, argv[1], &seq));

  struct sockaddr_storage to;
  memset(&to, 0, sizeof to);
  socklen_t to_length;
  if (p->family == 4) {
    struct sockaddr_in* in = (struct sockaddr_in*)&to;
    in->sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &in->sin_addr) != 1) return throw_errno(env, EINVAL, "inet_pton");
    to_length = sizeof *in;
  } else {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)&to;
    in6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) != 1) return throw_errno(env, EINVAL, "inet_pton");
    to_length = sizeof *in6;
  }

  unsigned char packet[8 + sizeof(SendStamp)];
  memset(packet, 0, sizeof packet);
  packet[0] = p->family == 4 ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
  packet[6] = (unsigned char)((seq >> 8) & 0xff);
  packet[7] = (unsigned char)(seq & 0xff);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  SendStamp stamp = {(int64_t)now.tv_sec, (int64_t)now.tv_nsec};
  memcpy(packet + 8, &stamp, sizeof stamp);
  /*
   * An ICMP error about an earlier echo also sets the socket's pending error, and
   * sendto returns that instead of sending. Clear it first (the error queue keeps the
   * details for on_poll), and once more if sendto still fails: one that arrived in
   * between is stale; a real failure (no route) fails the second try the same way,
   * and neither try has sent anything.
   */
  int err = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    int pending = 0;
    socklen_t length = sizeof pending;
    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &pending, &length);
    if (sendto(p->fd, packet, sizeof packet, 0, (struct sockaddr*)&to, to_length) >= 0) return NULL;
    err = errno;
  }
  return throw_errno(env, err, "sendto");
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Pinger* p = unwrap(env, info, &argc, NULL);
  if (p != NULL) shut(p);
  return NULL;
}

#else /* not Linux: no ICMP datagram sockets of this kind */

static napi_value js_open(napi_env env, napi_callback_info info) {
  (void)info;
  return throw_errno(env, ENOSYS, "socket");
}
static napi_value js_send(napi_env env, napi_callback_info info) {
  (void)info;
  return throw_errno(env, ENOSYS, "sendto");
}
static napi_value js_close(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  return NULL;
}

#endif

static napi_value init(napi_env env, napi_value exports) {
  napi_value open_fn;
  CHECK(napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &open_fn));
  CHECK(napi_set_named_property(env, exports, "open", open_fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

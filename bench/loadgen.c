/*
 * StatsD UDP load generator for `npm run bench`.
 *
 * Written in C because the figure must measure the receiver, not the sender: a Node sender tops
 * out near the same datagram rate as a Node receiver (both pay the libuv/dgram cost per datagram),
 * while sendmmsg(2) hands the kernel a batch of datagrams in one system call.
 *
 * Pacing is a token bucket refilled from CLOCK_MONOTONIC, with a burst of at most ~1 ms of traffic
 * (and never less than one batch) so the load is smooth at the scale of a socket buffer.
 *
 * Traffic goes to 127.0.0.1 only. Each line is a counter increment `NAME:1|c` (optionally with
 * DogStatsD tags `|#k:v,...`); datagrams hold LINES lines joined by '\n'.
 *
 * --sockets N sends from N sockets (N source ports), one sendmmsg batch each in turn: a receiver
 * with several SO_REUSEPORT sockets on the port gets datagrams spread by the kernel's hash of the
 * source address and port, so one sending socket would feed only one of them.
 *
 * --distinct N makes every line a different series, cycling through N of them: line i (counted
 * from 0 across the whole run) carries the tag `id:<i mod N>` appended to the given tags
 * (`NAME:1|c|#k:v,id:<i mod N>`), or, without --tags, the name suffixed `.<i mod N>`
 * (`NAME.<i mod N>:1|c`). With TOTAL <= N every line sent creates a new series. Datagrams are
 * then built per sendmmsg call (one buffer per datagram of the batch) instead of reused.
 *
 * Output: one JSON object on stdout with what was actually sent.
 *
 * Build: cc -O2 -o bench/loadgen bench/loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64        /* datagrams per sendmmsg call */
#define MAX_DGRAM 65000 /* stay under the 65507-byte UDP payload limit */
#define MAX_SOCKETS 64

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes v in decimal at out, returns the number of digits. */
static int format_u64(char *out, unsigned long long v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --port P --name NAME [--rate LINES_PER_S (0 = unlimited)] [--lines N]\n"
          "               [--total LINES] [--max-seconds S] [--tags 'k:v,k:v'] [--sockets N]\n"
          "               [--distinct N]\n"
          "  --port 0 binds a socket that nobody reads and sends to it (measures the sender alone)\n");
  exit(2);
}

int main(int argc, char **argv) {
  int port = -1;
  double rate = 0;
  long lines_per_dgram = 1;
  long long total = 100000;
  double max_seconds = 30;
  const char *name = NULL;
  const char *tags = NULL;
  int nsockets = 1;
  long long distinct = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v == NULL) usage();
    if (strcmp(a, "--port") == 0) port = atoi(v);
    else if (strcmp(a, "--rate") == 0) rate = atof(v);
    else if (strcmp(a, "--lines") == 0) lines_per_dgram = atol(v);
    else if (strcmp(a, "--total") == 0) total = atoll(v);
    else if (strcmp(a, "--max-seconds") == 0) max_seconds = atof(v);
    else if (strcmp(a, "--name") == 0) name = v;
    else if (strcmp(a, "--tags") == 0) tags = v;
    else if (strcmp(a, "--sockets") == 0) nsockets = atoi(v);
    else if (strcmp(a, "--distinct") == 0) distinct = atoll(v);
    else usage();
    i++;
  }
  if (port < 0 || port > 65535 || name == NULL || lines_per_dgram < 1 || total < 1 || rate < 0 ||
      nsockets < 1 || nsockets > MAX_SOCKETS || distinct < 0)
    usage();
  int has_tags = tags != NULL && tags[0] != '\0';

  /* One line, then the datagram payload: LINES copies joined by '\n'. */
  char line[1024];
  int line_len = has_tags ? snprintf(line, sizeof line, "%s:1|c|#%s", name, tags)
                                                 : snprintf(line, sizeof line, "%s:1|c", name);
  if (line_len <= 0 || line_len >= (int)sizeof line) {
    fprintf(stderr, "loadgen: metric line too long\n");
    return 2;
  }
  /* With --distinct a line grows by at most ",id:" or "." plus 19 digits. */
  long payload_cap = lines_per_dgram * (line_len + 1 + (distinct > 0 ? 24 : 0));
  if (payload_cap > MAX_DGRAM) {
    fprintf(stderr, "loadgen: %ld lines of %d bytes do not fit in one datagram\n", lines_per_dgram, line_len);
    return 2;
  }
  char *payload = malloc((size_t)payload_cap);
  long payload_len = 0;
  for (long i = 0; i < lines_per_dgram; i++) {
    if (i > 0) payload[payload_len++] = '\n';
    memcpy(payload + payload_len, line, (size_t)line_len);
    payload_len += line_len;
  }

  int fds[MAX_SOCKETS];
  for (int i = 0; i < nsockets; i++) {
    fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    if (fds[i] < 0) {
      perror("loadgen: socket");
      return 1;
    }
  }
  int sink_fd = -1;
  struct sockaddr_in dst;
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  dst.sin_port = htons((uint16_t)port);
  if (port == 0) {
    /* A receiver that never reads: the kernel drops what overflows its buffer, so this measures
       how fast the sender alone can go. */
    sink_fd = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t len = sizeof dst;
    if (sink_fd < 0 || bind(sink_fd, (struct sockaddr *)&dst, sizeof dst) != 0 ||
        getsockname(sink_fd, (struct sockaddr *)&dst, &len) != 0) {
      perror("loadgen: sink socket");
      return 1;
    }
  }
  for (int i = 0; i < nsockets; i++) {
    if (connect(fds[i], (struct sockaddr *)&dst, sizeof dst) != 0) {
      perror("loadgen: connect");
      return 1;
    }
  }

  /* --distinct: the two halves of a line around the series number, and one buffer per datagram. */
  char head[1024], tail[1024];
  int head_len = 0, tail_len = 0;
  char *dgram_bufs = NULL;
  if (distinct > 0) {
    if (has_tags) {
      head_len = snprintf(head, sizeof head, "%s:1|c|#%s,id:", name, tags);
      tail_len = 0;
    } else {
      head_len = snprintf(head, sizeof head, "%s.", name);
      tail_len = snprintf(tail, sizeof tail, ":1|c");
    }
    dgram_bufs = malloc((size_t)payload_cap * BATCH);
    if (dgram_bufs == NULL) {
      fprintf(stderr, "loadgen: out of memory\n");
      return 1;
    }
  }

  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = distinct > 0 ? dgram_bufs + (size_t)i * (size_t)payload_cap : payload;
    iov[i].iov_len = (size_t)payload_len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  long long total_dgrams = (total + lines_per_dgram - 1) / lines_per_dgram;
  long long sent_dgrams = 0;
  long long send_errors = 0; /* datagrams the kernel refused (ENOBUFS/EAGAIN/ECONNREFUSED) */
  long long syscalls = 0;
  /* Tokens count datagrams. Burst: ~1 ms of traffic, at least one batch. */
  double dgram_rate = rate / (double)lines_per_dgram;
  double burst = dgram_rate / 1000.0;
  if (burst < BATCH) burst = BATCH;
  double tokens = rate > 0 ? 1 : BATCH;
  double start = now_s();
  double last = start;
  double deadline = start + max_seconds;

  while (sent_dgrams < total_dgrams) {
    double t = now_s();
    if (t > deadline) break;
    int n;
    if (rate > 0) {
      tokens += (t - last) * dgram_rate;
      if (tokens > burst) tokens = burst;
      last = t;
      if (tokens < 1) {
        /* Sleep for roughly the time one datagram's token takes, at most 1 ms. */
        double wait = (1 - tokens) / dgram_rate;
        if (wait > 0.001) wait = 0.001;
        struct timespec ts = {0, (long)(wait * 1e9)};
        nanosleep(&ts, NULL);
        continue;
      }
      n = tokens < BATCH ? (int)tokens : BATCH;
    } else {
      n = BATCH;
    }
    if ((long long)n > total_dgrams - sent_dgrams) n = (int)(total_dgrams - sent_dgrams);
    if (distinct > 0) {
      /* Datagram d holds lines d*LINES .. d*LINES+LINES-1 (numbered across the run); a datagram
         that was not sent is rebuilt with the same numbers on the next call. */
      for (int k = 0; k < n; k++) {
        char *b = (char *)iov[k].iov_base;
        long len = 0;
        long long first = (sent_dgrams + k) * lines_per_dgram;
        for (long j = 0; j < lines_per_dgram; j++) {
          if (j > 0) b[len++] = '\n';
          memcpy(b + len, head, (size_t)head_len);
          len += head_len;
          len += format_u64(b + len, (unsigned long long)((first + j) % distinct));
          memcpy(b + len, tail, (size_t)tail_len);
          len += tail_len;
        }
        iov[k].iov_len = (size_t)len;
      }
    }
    int r = sendmmsg(fds[syscalls % nsockets], msgs, (unsigned)n, 0);
    syscalls++;
    if (r < 0) {
      if (errno == EINTR) continue;
      /* Count the datagram the kernel refused and move on: a load generator must not stall. */
      send_errors++;
      r = 1;
    }
    sent_dgrams += r;
    if (rate > 0) tokens -= r;
  }
  double elapsed = now_s() - start;

  /* Whole datagrams only: TOTAL is rounded up to a multiple of LINES. */
  long long good_lines = (sent_dgrams - send_errors) * lines_per_dgram;
  printf("{\"generator\":\"c-sendmmsg\",\"port\":%d,\"lines_per_datagram\":%ld,\"line_bytes\":%d,"
         "\"datagram_bytes\":%ld,\"target_rate\":%.0f,\"datagrams\":%lld,\"lines\":%lld,"
         "\"send_errors\":%lld,\"syscalls\":%lld,\"elapsed_s\":%.6f,\"lines_per_s\":%.0f,"
         "\"datagrams_per_s\":%.0f,\"sockets\":%d,\"distinct\":%lld}\n",
         ntohs(dst.sin_port), lines_per_dgram, line_len, payload_len, rate, sent_dgrams - send_errors,
         good_lines, send_errors, syscalls, elapsed, elapsed > 0 ? (double)good_lines / elapsed : 0,
         elapsed > 0 ? (double)(sent_dgrams - send_errors) / elapsed : 0, nsockets, distinct);
  free(payload);
  free(dgram_bufs);
  for (int i = 0; i < nsockets; i++) close(fds[i]);
  if (sink_fd >= 0) close(sink_fd);
  return 0;
}

/* ftpbench.c: the benchmark's load generator: a lean FTP client and a loopback-limit pair.
 *
 * Built by tests/bench/run with `gcc -O2 -pthread`; no dependencies beyond libc.
 * Every subcommand prints one line of `key=value` pairs on stdout for the driver to parse.
 * Every socket connects to 127.0.0.1 only, whatever address a PASV reply names, and carries
 * send/receive timeouts, so no run can hang or wander off the machine.
 *
 *   retr     PORT USER PASS PATH [MODE]          one download, discarded; time PASV..226;
 *                                                MODE S, B or C first (bytes: on the wire)
 *   stor     PORT USER PASS PATH BYTES           one upload of BYTES; time STOR..226
 *   sessions PORT USER PASS PATH WORKERS SECS MAX  login+TYPE+PASV+RETR+QUIT in a loop
 *   seq      PORT USER PASS PATH COUNT SECS      PASV+RETR repeated on one control connection
 *   idle     PORT USER PASS N HOLD_SECS          N logged-in sessions held until stdin closes
 *   multi    PORT USER PASS PATH N               N concurrent downloads started together
 *   sendfile-server FILE                         loopback limit: sendfile FILE to each client
 *   recv-server FILE [MIB]                       limit: read, write FILE, fdatasync, ack "ok";
 *                                                with MIB, start writeback every MIB written
 *   raw-recv PORT                                read a connection to EOF, discarded
 *   raw-send PORT BYTES                          write BYTES, half-close, wait for the ack
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Client read/write size: large enough that syscalls are not what limits a loopback stream. */
#define IO_BUF (256 * 1024)
/* Limit sendfile server's largest call: of whole-file, 64 KiB, 256 KiB and 1 MiB calls this was
 * the fastest here (one whole-file call was ~20% slower on this kernel). */
#define SENDFILE_CALL (256 * 1024)
/* Limit receive server's buffer: the same as ferroftpd's worker buffer, the design point. */
#define RECV_SERVER_BUF (128 * 1024)
/* No socket operation may block longer than this. */
#define SOCK_TIMEOUT_S 120
/* Hard cap on the life of a limit server, should the driver die without killing it. */
#define SERVER_LIFETIME_S 3600
/* A worker gives up after this many consecutive failures instead of spinning on them. */
#define MAX_CONSECUTIVE_ERRORS 50
#define MAX_WORKERS 256
#define MAX_IDLE 5000

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "ftpbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = SOCK_TIMEOUT_S };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connect to 127.0.0.1:port; -1 on failure. */
static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	set_timeouts(fd);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read a socket to EOF, discarding; returns bytes read or -1. MSG_TRUNC makes TCP drop the
 * data in the kernel instead of copying it out (tcp(7)), so the client spends its CPU on
 * nothing but the protocol and the server under test gets the rest of a 2-core machine. */
static long long drain(int fd, char *buf, size_t cap)
{
	long long total = 0;
	int flags = MSG_TRUNC;
	for (;;) {
		ssize_t r = recv(fd, buf, cap, flags);
		if (r < 0 && flags && (errno == EINVAL || errno == EOPNOTSUPP)) {
			flags = 0; /* not a TCP socket after all: copy like read(2) */
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return total;
		total += r;
	}
}

/* ---- control connection ---------------------------------------------------------------- */

struct ctl {
	int fd;
	size_t len, off;
	char buf[2048];
	char last[256]; /* first line of the last reply, for error messages and PASV parsing */
};

/* Next line (CRLF stripped) into out; 0 on success, -1 on EOF/error/overlong line. */
static int ctl_line(struct ctl *c, char *out, size_t cap)
{
	size_t n = 0;
	for (;;) {
		while (c->off < c->len) {
			char ch = c->buf[c->off++];
			if (ch == '\n') {
				if (n > 0 && out[n - 1] == '\r')
					n--;
				out[n] = 0;
				return 0;
			}
			if (n + 1 >= cap)
				return -1;
			out[n++] = ch;
		}
		ssize_t r = read(c->fd, c->buf, sizeof c->buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->len = (size_t)r;
		c->off = 0;
	}
}

/* Read one reply (multi-line aware, RFC 959 §4.2); returns its code or -1. */
static int ctl_reply(struct ctl *c)
{
	char line[1024];
	if (ctl_line(c, line, sizeof line) < 0 || strlen(line) < 3)
		return -1;
	snprintf(c->last, sizeof c->last, "%.200s", line);
	int code = atoi(line);
	if (line[3] == '-') {
		char end[5];
		snprintf(end, sizeof end, "%.3s ", line);
		do {
			if (ctl_line(c, line, sizeof line) < 0)
				return -1;
		} while (strncmp(line, end, 4) != 0);
	}
	return code;
}

static int ctl_send(struct ctl *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 2)
		return -1;
	memcpy(line + n, "\r\n", 2);
	return write_all(c->fd, line, (size_t)n + 2);
}

static int ctl_cmd(struct ctl *c, const char *fmt, const char *arg)
{
	if (ctl_send(c, fmt, arg) < 0)
		return -1;
	return ctl_reply(c);
}

static void ctl_close(struct ctl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Connect, log in, binary type. 0 on success. */
static int ftp_login(struct ctl *c, int port, const char *user, const char *pass)
{
	c->len = c->off = 0;
	c->fd = tcp_connect(port);
	if (c->fd < 0)
		return -1;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (ctl_reply(c) != 220)
		goto fail;
	int code = ctl_cmd(c, "USER %s", user);
	if (code == 331)
		code = ctl_cmd(c, "PASS %s", pass);
	if (code != 230)
		goto fail;
	if (ctl_cmd(c, "TYPE %s", "I") != 200)
		goto fail;
	return 0;
fail:
	ctl_close(c);
	return -1;
}

static void ftp_quit(struct ctl *c)
{
	if (c->fd >= 0)
		ctl_cmd(c, "%s", "QUIT");
	ctl_close(c);
}

/* PASV and connect the data socket (always to 127.0.0.1); returns the fd or -1. */
static int ftp_pasv(struct ctl *c)
{
	if (ctl_cmd(c, "%s", "PASV") != 227)
		return -1;
	const char *p = strchr(c->last, '(');
	unsigned h1, h2, h3, h4, p1, p2;
	if (!p || sscanf(p, "(%u,%u,%u,%u,%u,%u)", &h1, &h2, &h3, &h4, &p1, &p2) != 6)
		return -1;
	return tcp_connect((int)(p1 * 256 + p2));
}

/* PASV, then the command (fmt with path) up to its 1xx reply; the data socket, or -1. */
static int ftp_open_transfer(struct ctl *c, const char *fmt, const char *path)
{
	int dfd = ftp_pasv(c);
	if (dfd < 0)
		return -1;
	int code = ctl_cmd(c, fmt, path);
	if (code != 150 && code != 125) {
		close(dfd);
		return -1;
	}
	return dfd;
}

/* RETR path, discarding the data; returns bytes or -1. */
static long long ftp_retr(struct ctl *c, const char *path, char *buf, size_t cap)
{
	int dfd = ftp_open_transfer(c, "RETR %s", path);
	if (dfd < 0)
		return -1;
	long long n = drain(dfd, buf, cap);
	close(dfd);
	int code = ctl_reply(c);
	if (code != 226 && code != 250)
		return -1;
	return n;
}

/* STOR path with `bytes` bytes from buf; returns 0 or -1. */
static int ftp_stor(struct ctl *c, const char *path, long long bytes, const char *buf, size_t cap)
{
	int dfd = ftp_open_transfer(c, "STOR %s", path);
	if (dfd < 0)
		return -1;
	while (bytes > 0) {
		size_t n = bytes < (long long)cap ? (size_t)bytes : cap;
		if (write_all(dfd, buf, n) < 0) {
			close(dfd);
			return -1;
		}
		bytes -= (long long)n;
	}
	close(dfd);
	int code = ctl_reply(c);
	return (code == 226 || code == 250) ? 0 : -1;
}

static char *xalloc(size_t n)
{
	char *p = malloc(n);
	if (!p)
		die("malloc");
	memset(p, 'x', n); /* touched, so page faults stay out of the timed part */
	return p;
}

/* ---- subcommands ------------------------------------------------------------------------- */

/* One RETR (upload < 0, data discarded) or a STOR of `upload` bytes, timed command..226. */
static int cmd_transfer(int port, const char *user, const char *pass, const char *path,
			long long upload, const char *mode)
{
	struct ctl c;
	char *buf = xalloc(IO_BUF);
	if (ftp_login(&c, port, user, pass) < 0) {
		printf("ok=0 error=login\n");
		return 1;
	}
	if (mode && ctl_cmd(&c, "MODE %s", mode) != 200) {
		printf("ok=0 error=mode reply=\"%s\"\n", c.last);
		return 1;
	}
	double t0 = now();
	long long n = upload < 0 ? ftp_retr(&c, path, buf, IO_BUF)
				 : (ftp_stor(&c, path, upload, buf, IO_BUF) < 0 ? -1 : upload);
	double t1 = now();
	if (n < 0)
		printf("ok=0 error=%s reply=\"%s\"\n", upload < 0 ? "retr" : "stor", c.last);
	else
		printf("ok=1 bytes=%lld secs=%.6f\n", n, t1 - t0);
	ftp_quit(&c);
	return n < 0;
}

struct shared {
	int port;
	const char *user, *pass, *path;
	double deadline;
	long max;
	long done;   /* completed sessions/transfers (atomic) */
	long errors; /* failures (atomic) */
	int stop;    /* atomic */
};

static void *session_worker(void *arg)
{
	struct shared *s = arg;
	char *buf = xalloc(64 * 1024);
	int consecutive = 0;
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED) && now() < s->deadline) {
		struct ctl c;
		int ok = ftp_login(&c, s->port, s->user, s->pass) == 0 &&
			 ftp_retr(&c, s->path, buf, 64 * 1024) >= 0 &&
			 ctl_cmd(&c, "%s", "QUIT") == 221;
		ctl_close(&c);
		if (ok) {
			consecutive = 0;
			if (__atomic_add_fetch(&s->done, 1, __ATOMIC_RELAXED) >= s->max)
				__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
			if (++consecutive >= MAX_CONSECUTIVE_ERRORS)
				break;
		}
	}
	free(buf);
	return NULL;
}

static int cmd_sessions(struct shared *s, int workers, double secs)
{
	pthread_t th[MAX_WORKERS];
	if (workers < 1 || workers > MAX_WORKERS)
		workers = 8;
	double t0 = now();
	s->deadline = t0 + secs;
	for (int i = 0; i < workers; i++)
		if (pthread_create(&th[i], NULL, session_worker, s) != 0)
			die("pthread_create");
	for (int i = 0; i < workers; i++)
		pthread_join(th[i], NULL);
	double el = now() - t0;
	printf("ok=%d sessions=%ld errors=%ld secs=%.6f\n", s->errors == 0, s->done, s->errors, el);
	return 0;
}

static int cmd_seq(struct shared *s, long count, double secs)
{
	struct ctl c;
	char *buf = xalloc(64 * 1024);
	if (ftp_login(&c, s->port, s->user, s->pass) < 0) {
		printf("ok=0 error=login\n");
		return 1;
	}
	double t0 = now(), deadline = t0 + secs;
	long done = 0;
	while (done < count && now() < deadline) {
		if (ftp_retr(&c, s->path, buf, 64 * 1024) < 0)
			break;
		done++;
	}
	double el = now() - t0;
	if (done < count)
		printf("ok=0 files=%ld secs=%.6f reply=\"%s\"\n", done, el, c.last);
	else
		printf("ok=1 files=%ld secs=%.6f\n", done, el);
	ftp_quit(&c);
	return 0;
}

/* ---- idle sessions --------------------------------------------------------------------- */

struct idle_job {
	struct shared *s;
	struct ctl *c;
	int first, step, n;
	int ok;
	char error[128]; /* the first failed login's last reply */
};

static void *idle_login(void *arg)
{
	struct idle_job *j = arg;
	for (int i = j->first; i < j->n; i += j->step) {
		if (ftp_login(&j->c[i], j->s->port, j->s->user, j->s->pass) == 0) {
			j->ok++;
		} else {
			if (!j->error[0])
				snprintf(j->error, sizeof j->error, "%.100s",
					 j->c[i].last[0] ? j->c[i].last : "connect failed");
			j->c[i].fd = -1;
		}
	}
	return NULL;
}

static int cmd_idle(struct shared *s, int n, double hold)
{
	enum { THREADS = 8 };
	if (n < 1 || n > MAX_IDLE)
		n = 1;
	struct ctl *c = calloc((size_t)n, sizeof *c);
	if (!c)
		die("calloc");
	pthread_t th[THREADS];
	struct idle_job jobs[THREADS];
	double t0 = now();
	for (int t = 0; t < THREADS; t++) {
		jobs[t] = (struct idle_job){ .s = s, .c = c, .first = t, .step = THREADS, .n = n };
		if (pthread_create(&th[t], NULL, idle_login, &jobs[t]) != 0)
			die("pthread_create");
	}
	int ok = 0;
	const char *error = "";
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		ok += jobs[t].ok;
		if (!error[0])
			error = jobs[t].error;
	}
	printf("ready=%d errors=%d secs=%.6f reply=\"%s\"\n", ok, n - ok, now() - t0, error);
	fflush(stdout);
	/* Hold until the driver writes a line or closes stdin (or the hold time runs out). */
	struct pollfd pf = { .fd = 0, .events = POLLIN };
	poll(&pf, 1, (int)(hold * 1000));
	int alive = 0;
	for (int i = 0; i < n; i++) {
		if (c[i].fd < 0)
			continue;
		if (ctl_cmd(&c[i], "%s", "NOOP") == 200)
			alive++;
		ftp_quit(&c[i]);
	}
	printf("ok=%d held=%d lost=%d\n", ok == n && alive == n, alive, ok - alive);
	return 0;
}

/* ---- concurrent downloads -------------------------------------------------------------- */

struct multi_job {
	struct shared *s;
	pthread_barrier_t *ready;
	double end;
	long long bytes;
	int ok;
};

static void *multi_worker(void *arg)
{
	struct multi_job *j = arg;
	struct ctl c;
	char *buf = xalloc(IO_BUF);
	int logged = ftp_login(&c, j->s->port, j->s->user, j->s->pass) == 0;
	pthread_barrier_wait(j->ready); /* all streams start together */
	pthread_barrier_wait(j->ready); /* after the main thread took t0 */
	if (logged) {
		j->bytes = ftp_retr(&c, j->s->path, buf, IO_BUF);
		j->ok = j->bytes >= 0;
		ftp_quit(&c);
	}
	j->end = now();
	free(buf);
	return NULL;
}

static int cmd_multi(struct shared *s, int n)
{
	if (n < 1 || n > MAX_WORKERS)
		n = 1;
	pthread_t th[MAX_WORKERS];
	struct multi_job jobs[MAX_WORKERS];
	pthread_barrier_t ready;
	pthread_barrier_init(&ready, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct multi_job){ .s = s, .ready = &ready };
		if (pthread_create(&th[i], NULL, multi_worker, &jobs[i]) != 0)
			die("pthread_create");
	}
	pthread_barrier_wait(&ready);
	double t0 = now();
	pthread_barrier_wait(&ready);
	long long total = 0;
	int ok = 0;
	double last = t0, first = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].ok) {
			ok++;
			total += jobs[i].bytes;
		}
		if (jobs[i].end > last)
			last = jobs[i].end;
		if (first == 0 || jobs[i].end < first)
			first = jobs[i].end;
	}
	printf("ok=%d streams=%d failed=%d bytes=%lld secs=%.6f first_done=%.6f\n", ok == n, ok,
	       n - ok, total, last - t0, first - t0);
	return 0;
}

/* ---- loopback limits ------------------------------------------------------------------- */

static int listen_loopback(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("listen");
	printf("port=%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	alarm(SERVER_LIFETIME_S);
	return fd;
}

/* The next client of a limit server, with the usual socket timeouts. */
static int accept_client(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			set_timeouts(fd);
			return fd;
		}
		if (errno != EINTR)
			die("accept");
	}
}

/* The best a download can do here: sendfile(2) of a cached file to one loopback client. */
static _Noreturn void cmd_sendfile_server(const char *file)
{
	int lfd = listen_loopback();
	for (;;) {
		int fd = accept_client(lfd);
		int f = open(file, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (f < 0 || fstat(f, &st) < 0)
			die(file);
		off_t off = 0;
		while (off < st.st_size) {
			size_t want = (size_t)(st.st_size - off);
			ssize_t n = sendfile(fd, f, &off, want < SENDFILE_CALL ? want : SENDFILE_CALL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
		}
		close(f);
		close(fd);
	}
}

/* The best an upload can do here: read into a 128 KiB buffer, write, fdatasync, then ack.
 * With writeback_mib > 0 it also starts writeback (sync_file_range, no wait) of every
 * writeback_mib just written, so the disk works while the network does and the final
 * fdatasync has little left: a variant to show what that policy would gain. */
static _Noreturn void cmd_recv_server(const char *file, long writeback_mib)
{
	const off_t chunk = (off_t)writeback_mib * 1024 * 1024;
	int lfd = listen_loopback();
	char *buf = xalloc(RECV_SERVER_BUF);
	for (;;) {
		int fd = accept_client(lfd);
		int f = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f < 0)
			die(file);
		int ok = 1;
		off_t written = 0, flushed = 0;
		for (;;) {
			ssize_t r = read(fd, buf, RECV_SERVER_BUF);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				ok = 0;
			if (r <= 0)
				break;
			if (write_all(f, buf, (size_t)r) < 0) {
				ok = 0;
				break;
			}
			written += r;
			if (chunk > 0 && written - flushed >= chunk) {
				sync_file_range(f, flushed, written - flushed, SYNC_FILE_RANGE_WRITE);
				flushed = written;
			}
		}
		if (fdatasync(f) < 0)
			ok = 0;
		close(f);
		if (ok)
			write_all(fd, "ok", 2);
		close(fd);
	}
}

static int cmd_raw_recv(int port)
{
	char *buf = xalloc(IO_BUF);
	double t0 = now();
	int fd = tcp_connect(port);
	if (fd < 0)
		die("connect");
	long long n = drain(fd, buf, IO_BUF);
	double t1 = now();
	close(fd);
	printf("ok=%d bytes=%lld secs=%.6f\n", n > 0, n, t1 - t0);
	return n <= 0;
}

static int cmd_raw_send(int port, long long bytes)
{
	char *buf = xalloc(IO_BUF);
	double t0 = now();
	int fd = tcp_connect(port);
	if (fd < 0)
		die("connect");
	long long left = bytes;
	while (left > 0) {
		size_t n = left < IO_BUF ? (size_t)left : IO_BUF;
		if (write_all(fd, buf, n) < 0)
			die("write");
		left -= (long long)n;
	}
	shutdown(fd, SHUT_WR);
	char ack[8];
	ssize_t r = read(fd, ack, sizeof ack);
	double t1 = now();
	close(fd);
	int ok = r == 2 && memcmp(ack, "ok", 2) == 0;
	printf("ok=%d bytes=%lld secs=%.6f\n", ok, bytes, t1 - t0);
	return !ok;
}

static void usage(void)
{
	fprintf(stderr, "usage: see the comment at the top of tests/bench/ftpbench.c\n");
	exit(2);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	const char *cmd = argv[1];
	if (!strcmp(cmd, "sendfile-server") && argc == 3)
		cmd_sendfile_server(argv[2]);
	if (!strcmp(cmd, "recv-server") && (argc == 3 || argc == 4))
		cmd_recv_server(argv[2], argc == 4 ? atol(argv[3]) : 0);
	if (!strcmp(cmd, "raw-recv") && argc == 3)
		return cmd_raw_recv(atoi(argv[2]));
	if (!strcmp(cmd, "raw-send") && argc == 4)
		return cmd_raw_send(atoi(argv[2]), atoll(argv[3]));
	if (argc < 5)
		usage();
	struct shared s = { .port = atoi(argv[2]), .user = argv[3], .pass = argv[4], .max = 1L << 40 };
	if (!strcmp(cmd, "retr") && (argc == 6 || argc == 7))
		return cmd_transfer(s.port, s.user, s.pass, argv[5], -1, argc == 7 ? argv[6] : NULL);
	if (!strcmp(cmd, "stor") && argc == 7 && atoll(argv[6]) >= 0)
		return cmd_transfer(s.port, s.user, s.pass, argv[5], atoll(argv[6]), NULL);
	if (!strcmp(cmd, "sessions") && argc == 9) {
		s.path = argv[5];
		s.max = atol(argv[8]);
		return cmd_sessions(&s, atoi(argv[6]), atof(argv[7]));
	}
	if (!strcmp(cmd, "seq") && argc == 8) {
		s.path = argv[5];
		return cmd_seq(&s, atol(argv[6]), atof(argv[7]));
	}
	if (!strcmp(cmd, "idle") && argc == 7)
		return cmd_idle(&s, atoi(argv[5]), atof(argv[6]));
	if (!strcmp(cmd, "multi") && argc == 7) {
		s.path = argv[5];
		return cmd_multi(&s, atoi(argv[6]));
	}
	usage();
	return 2;
}

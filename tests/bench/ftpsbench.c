/* ftpsbench.c: the benchmark's FTPS load generator (issue 12): explicit FTPS (AUTH TLS,
 * RFC 4217) with PROT P data connections that resume the control connection's TLS session,
 * as curl, lftp and FileZilla do, so servers that require reuse accept them.
 *
 * Built by tests/bench/run with `gcc -O2 -pthread ... -lssl -lcrypto` when the OpenSSL headers
 * are there (libssl-dev); kept apart from ftpbench.c so that one needs nothing beyond libc.
 * Every subcommand prints one line of `key=value` pairs on stdout for the driver to parse.
 * Every socket connects to 127.0.0.1 only and carries send/receive timeouts. The server
 * certificate is verified against CAFILE (name 127.0.0.1 or localhost is not checked: the
 * bench makes the leaf for 127.0.0.1 itself).
 *
 *   retr     CAFILE PORT USER PASS PATH          one PROT P download, discarded; time PASV..226
 *   stor     CAFILE PORT USER PASS PATH BYTES    one PROT P upload of BYTES; time PASV..226
 *   logins   CAFILE PORT USER PASS WORKERS SECS  connect+AUTH TLS+handshake+USER/PASS+QUIT loop
 *   idle     CAFILE PORT USER PASS N HOLD_SECS   N sessions logged in after AUTH TLS, held
 *                                                until stdin has a line or closes
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* TLS records carry at most 16 KiB; a larger buffer only saves calls into OpenSSL. */
#define IO_BUF (256 * 1024)
#define SOCK_TIMEOUT_S 120
#define MAX_CONSECUTIVE_ERRORS 50
#define MAX_WORKERS 256
#define MAX_IDLE 5000

static SSL_CTX *ctx;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "ftpsbench: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = { .tv_sec = SOCK_TIMEOUT_S };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- control connection: plain until AUTH TLS, then through ssl ---------------------------- */

struct ctl {
	int fd;
	SSL *ssl;
	size_t len, off;
	char buf[2048];
	char last[256];
};

static ssize_t ctl_read(struct ctl *c, void *buf, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, buf, (int)n);
		return r > 0 ? r : -1;
	}
	ssize_t r;
	do
		r = read(c->fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static int ctl_write(struct ctl *c, const char *p, size_t n)
{
	if (c->ssl)
		return SSL_write(c->ssl, p, (int)n) == (int)n ? 0 : -1;
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

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
		ssize_t r = ctl_read(c, c->buf, sizeof c->buf);
		if (r <= 0)
			return -1;
		c->len = (size_t)r;
		c->off = 0;
	}
}

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

static int ctl_cmd(struct ctl *c, const char *fmt, const char *arg)
{
	char line[1024];
	int n = snprintf(line, sizeof line - 2, fmt, arg);
	if (n < 0 || (size_t)n >= sizeof line - 2)
		return -1;
	memcpy(line + n, "\r\n", 2);
	if (ctl_write(c, line, (size_t)n + 2) < 0)
		return -1;
	return ctl_reply(c);
}

static void ctl_close(struct ctl *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* TLS client handshake on fd, resuming sess when given; NULL on failure. */
static SSL *tls_connect(int fd, SSL_SESSION *sess)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	SSL_set_fd(ssl, fd);
	if (sess)
		SSL_set_session(ssl, sess);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* Connect, AUTH TLS, handshake, log in. 0 on success. */
static int ftps_login(struct ctl *c, int port, const char *user, const char *pass)
{
	memset(c, 0, sizeof *c);
	c->fd = tcp_connect(port);
	if (c->fd < 0) {
		snprintf(c->last, sizeof c->last, "connect failed");
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (ctl_reply(c) != 220 || ctl_cmd(c, "%s", "AUTH TLS") != 234)
		goto fail;
	c->len = c->off = 0; /* nothing may follow 234 in the clear */
	c->ssl = tls_connect(c->fd, NULL);
	if (!c->ssl) {
		snprintf(c->last, sizeof c->last, "control handshake failed");
		goto fail;
	}
	int code = ctl_cmd(c, "USER %s", user);
	if (code == 331)
		code = ctl_cmd(c, "PASS %s", pass);
	if (code != 230)
		goto fail;
	return 0;
fail:
	ctl_close(c);
	return -1;
}

static void ftps_quit(struct ctl *c)
{
	if (c->fd >= 0)
		ctl_cmd(c, "%s", "QUIT");
	ctl_close(c);
}

/* PBSZ/PROT P/TYPE I, PASV, the command, and the data connection's TLS handshake resuming
 * the control session; returns the data SSL (its fd inside) or NULL. */
static SSL *ftps_open_transfer(struct ctl *c, const char *fmt, const char *path)
{
	if (ctl_cmd(c, "%s", "PBSZ 0") != 200 || ctl_cmd(c, "%s", "PROT P") != 200 ||
	    ctl_cmd(c, "%s", "TYPE I") != 200 || ctl_cmd(c, "%s", "PASV") != 227)
		return NULL;
	const char *p = strchr(c->last, '(');
	unsigned h1, h2, h3, h4, p1, p2;
	if (!p || sscanf(p, "(%u,%u,%u,%u,%u,%u)", &h1, &h2, &h3, &h4, &p1, &p2) != 6)
		return NULL;
	int dfd = tcp_connect((int)(p1 * 256 + p2));
	if (dfd < 0)
		return NULL;
	int code = ctl_cmd(c, fmt, path);
	if (code != 150 && code != 125) {
		close(dfd);
		return NULL;
	}
	/* The latest session of the control connection (under TLS 1.3 its tickets arrive after
	 * the handshake, read along with the replies above). */
	SSL_SESSION *sess = SSL_get1_session(c->ssl);
	SSL *d = tls_connect(dfd, sess);
	SSL_SESSION_free(sess);
	if (!d) {
		snprintf(c->last, sizeof c->last, "data handshake failed");
		close(dfd);
		return NULL;
	}
	return d;
}

static void data_close(SSL *d)
{
	int fd = SSL_get_fd(d);
	SSL_free(d);
	close(fd);
}

static int cmd_retr(int port, const char *user, const char *pass, const char *path)
{
	struct ctl c;
	char *buf = malloc(IO_BUF);
	if (!buf || ftps_login(&c, port, user, pass) < 0) {
		printf("ok=0 error=login reply=\"%s\"\n", buf ? c.last : "");
		return 1;
	}
	double t0 = now();
	SSL *d = ftps_open_transfer(&c, "RETR %s", path);
	if (!d) {
		printf("ok=0 reply=\"%s\"\n", c.last);
		return 1;
	}
	long long total = 0;
	int reused = SSL_session_reused(d);
	for (;;) {
		int r = SSL_read(d, buf, IO_BUF);
		if (r <= 0)
			break; /* close_notify, or an EOF without one (counted by bytes) */
		total += r;
	}
	data_close(d);
	int code = ctl_reply(&c);
	double el = now() - t0;
	printf("ok=%d bytes=%lld secs=%.6f reused=%d reply=\"%s\"\n", code == 226 || code == 250,
	       total, el, reused, c.last);
	ftps_quit(&c);
	return 0;
}

static int cmd_stor(int port, const char *user, const char *pass, const char *path,
		    long long bytes)
{
	struct ctl c;
	char *buf = malloc(IO_BUF);
	if (!buf || ftps_login(&c, port, user, pass) < 0) {
		printf("ok=0 error=login reply=\"%s\"\n", buf ? c.last : "");
		return 1;
	}
	for (size_t i = 0; i < IO_BUF; i++)
		buf[i] = (char)(i * 2654435761u >> 13);
	double t0 = now();
	SSL *d = ftps_open_transfer(&c, "STOR %s", path);
	if (!d) {
		printf("ok=0 reply=\"%s\"\n", c.last);
		return 1;
	}
	int reused = SSL_session_reused(d);
	long long left = bytes;
	while (left > 0) {
		int n = left < IO_BUF ? (int)left : IO_BUF;
		if (SSL_write(d, buf, n) != n)
			break;
		left -= n;
	}
	/* close_notify, then half-close and wait for the server's end, so no RST can cut it. */
	SSL_shutdown(d);
	shutdown(SSL_get_fd(d), SHUT_WR);
	while (SSL_read(d, buf, IO_BUF) > 0)
		;
	data_close(d);
	int code = ctl_reply(&c);
	double el = now() - t0;
	printf("ok=%d bytes=%lld secs=%.6f reused=%d reply=\"%s\"\n",
	       left == 0 && (code == 226 || code == 250), bytes - left, el, reused, c.last);
	ftps_quit(&c);
	return 0;
}

/* ---- logins per second ------------------------------------------------------------------ */

struct shared {
	int port;
	const char *user, *pass;
	double deadline;
	long done, errors; /* atomic */
	char error[128];   /* the first failure's reply */
};

static void *login_worker(void *arg)
{
	struct shared *s = arg;
	int consecutive = 0;
	while (now() < s->deadline) {
		struct ctl c;
		int ok = ftps_login(&c, s->port, s->user, s->pass) == 0 &&
			 ctl_cmd(&c, "%s", "QUIT") == 221;
		if (!ok && !s->error[0])
			snprintf(s->error, sizeof s->error, "%.100s", c.last);
		ctl_close(&c);
		if (ok) {
			consecutive = 0;
			__atomic_add_fetch(&s->done, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
			if (++consecutive >= MAX_CONSECUTIVE_ERRORS)
				break;
		}
	}
	return NULL;
}

static int cmd_logins(struct shared *s, int workers, double secs)
{
	pthread_t th[MAX_WORKERS];
	if (workers < 1 || workers > MAX_WORKERS)
		workers = 8;
	double t0 = now();
	s->deadline = t0 + secs;
	for (int i = 0; i < workers; i++)
		if (pthread_create(&th[i], NULL, login_worker, s) != 0)
			die("pthread_create");
	for (int i = 0; i < workers; i++)
		pthread_join(th[i], NULL);
	printf("ok=%d sessions=%ld errors=%ld secs=%.6f reply=\"%s\"\n", s->errors == 0, s->done,
	       s->errors, now() - t0, s->error);
	return 0;
}

/* ---- idle TLS sessions ------------------------------------------------------------------ */

static int cmd_idle(struct shared *s, int n, double hold)
{
	if (n < 1 || n > MAX_IDLE)
		n = 1;
	struct ctl *c = calloc((size_t)n, sizeof *c);
	if (!c)
		die("calloc");
	int ok = 0;
	char error[128] = "";
	double t0 = now();
	for (int i = 0; i < n; i++) {
		if (ftps_login(&c[i], s->port, s->user, s->pass) == 0)
			ok++;
		else if (!error[0])
			snprintf(error, sizeof error, "%.100s", c[i].last);
	}
	printf("ready=%d errors=%d secs=%.6f reply=\"%s\"\n", ok, n - ok, now() - t0, error);
	fflush(stdout);
	struct pollfd pf = { .fd = 0, .events = POLLIN };
	poll(&pf, 1, (int)(hold * 1000));
	int alive = 0;
	for (int i = 0; i < n; i++) {
		if (c[i].fd < 0)
			continue;
		if (ctl_cmd(&c[i], "%s", "NOOP") == 200)
			alive++;
		ftps_quit(&c[i]);
	}
	printf("ok=%d held=%d lost=%d\n", ok == n && alive == n, alive, ok - alive);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ftpsbench retr|stor|logins|idle CAFILE PORT USER PASS ... "
			"(see the comment at the top of ftpsbench.c)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 6)
		usage();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1)
		die("cannot load the CA file");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Servers that end a PROT P download by closing without close_notify are common. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	const char *mode = argv[1];
	struct shared s = { .port = atoi(argv[3]), .user = argv[4], .pass = argv[5] };
	if (!strcmp(mode, "retr") && argc == 7)
		return cmd_retr(s.port, s.user, s.pass, argv[6]);
	if (!strcmp(mode, "stor") && argc == 8)
		return cmd_stor(s.port, s.user, s.pass, argv[6], atoll(argv[7]));
	if (!strcmp(mode, "logins") && argc == 8)
		return cmd_logins(&s, atoi(argv[6]), atof(argv[7]));
	if (!strcmp(mode, "idle") && argc == 8)
		return cmd_idle(&s, atoi(argv[6]), atof(argv[7]));
	usage();
	return 2;
}

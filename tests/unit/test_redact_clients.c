/* SPDX-License-Identifier: MIT */
/*
 * The recording's masker (redact/redact_stream.h) over what real clients and
 * servers say on loopback: curl against nginx, over HTTP/1.1 and h2c (an
 * Authorization header, a cookie, an API key, a token in the query, a
 * password in a Referer's userinfo, Basic credentials, form and JSON
 * bodies with a card number; nginx answers with Set-Cookie and a JSON
 * token), and redis-cli against redis-server (AUTH pass, AUTH user pass,
 * HELLO 3 AUTH, -3 with a password). The test relays each connection and
 * keeps both directions' bytes and the chunks they came in.
 *
 * Each direction is then masked fed whole, in the chunks it was received
 * in, cut once at every offset, and one byte at a time. Every output must
 * keep the length, leave no byte of a planted secret standing (in the
 * bytes; for HTTP/2 also in the decoded header fields, which must still
 * decode), and be byte-identical to the whole stream's output.
 */
#include <nghttp2/nghttp2.h>

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redact/redact.h"
#include "redact/redact_stream.h"

#define RELAY_MAX 8 /* connections one client run may open */
#define CHUNKS_MAX 4096

/* ------------------------------------------------------- processes --- */

struct proc {
	pid_t pid;
};

static void proc_stop(void *arg)
{
	struct proc *p = arg;
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	free(p);
}

/* argv started with its output thrown away; killed by the teardown, and
 * by the kernel if this test dies first. */
static struct proc *spawn(char *const argv[])
{
	struct proc *p = tu_xmalloc(sizeof(*p));
	pid_t parent = getpid();
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (!p->pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	tu_cleanup_push(proc_stop, p);
	return p;
}

static bool have(const char *prog)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static void rm_tree(void *arg)
{
	char cmd[320];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)arg);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", (char *)arg);
	free(arg);
}

static char *temp_dir(void)
{
	char *d = tu_strndup("/tmp/sonde-redact-clients.XXXXXX", 32);
	assert_non_null(mkdtemp(d));
	chmod(d, 0755); /* nginx's workers read below it */
	tu_cleanup_push(rm_tree, d);
	return d;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* ---------------------------------------------------------- sockets --- */

static int listen_lo(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port nobody listens on now, for a server to take. */
static uint16_t free_port(void)
{
	uint16_t port;
	close(listen_lo(&port));
	return port;
}

static int connect_lo(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	close(fd);
	return -1;
}

static void wait_listening(uint16_t port, const char *what)
{
	for (double end = now_s() + 10; now_s() < end; usleep(20000)) {
		int fd = connect_lo(port);
		if (fd >= 0) {
			close(fd);
			return;
		}
	}
	fail_msg("%s does not listen on %u", what, port);
}

/* ---------------------------------------------------- conversations --- */

/* One connection's bytes, each direction's (0: client to server), and the
 * order and sizes they were received in. */
struct conv {
	struct sonde_buf dir[2];
	uint32_t nchunk;
	struct {
		uint8_t dir;
		uint32_t len;
	} chunk[CHUNKS_MAX];
};

struct pair {
	int fd[2]; /* client side, server side */
	bool eof[2]; /* read to its end */
	struct conv *c;
};

static void convs_free(void *arg)
{
	struct conv **cv = arg;
	for (int i = 0; i < RELAY_MAX && cv[i]; i++) {
		sonde_buf_free(&cv[i]->dir[0]);
		sonde_buf_free(&cv[i]->dir[1]);
		free(cv[i]);
	}
	free(cv);
}

/* Moves what is readable on side k of p to the other side, keeping it. */
static void relay_step(struct pair *p, int k)
{
	uint8_t buf[4096];
	ssize_t n = read(p->fd[k], buf, sizeof(buf));
	if (n <= 0) {
		shutdown(p->fd[!k], SHUT_WR);
		p->eof[k] = true;
		return;
	}
	sonde_buf_append(&p->c->dir[k], buf, (size_t)n);
	if (p->c->nchunk < CHUNKS_MAX)
		p->c->chunk[p->c->nchunk].dir = (uint8_t)k,
		p->c->chunk[p->c->nchunk++].len = (uint32_t)n;
	else /* the last entry takes the rest */
		p->c->chunk[CHUNKS_MAX - 1].len += (uint32_t)n;
	for (ssize_t at = 0; at < n;) {
		ssize_t w = write(p->fd[!k], buf + at, (size_t)(n - at));
		if (w <= 0)
			break;
		at += w;
	}
}

/*
 * Runs the client argv, relaying each connection it makes to lfd on to
 * the server's port, until it has exited and its connections are closed.
 * Returns the conversations (NULL-terminated).
 */
static struct conv **relay_client(int lfd, uint16_t server, char *const argv[])
{
	struct conv **cv = calloc(RELAY_MAX + 1, sizeof(*cv));
	tu_cleanup_push(convs_free, cv);
	struct pair pr[RELAY_MAX];
	int npair = 0, status = 0;
	struct proc *client = spawn(argv);
	double end = now_s() + 20;
	bool exited = false;
	while (now_s() < end) {
		struct pollfd pf[1 + 2 * RELAY_MAX];
		int np = 0, open_fds = 0;
		pf[np++] = (struct pollfd){ .fd = npair < RELAY_MAX ? lfd : -1, .events = POLLIN };
		for (int i = 0; i < npair; i++)
			for (int k = 0; k < 2; k++) {
				pf[np++] = (struct pollfd){ .fd = pr[i].eof[k] ? -1 : pr[i].fd[k],
							    .events = POLLIN };
				open_fds += !pr[i].eof[k];
			}
		if (exited && !open_fds)
			break;
		poll(pf, (nfds_t)np, 50);
		if (pf[0].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			int s = connect_lo(server);
			assert_true(c >= 0 && s >= 0);
			cv[npair] = tu_xmalloc(sizeof(struct conv));
			memset(cv[npair], 0, sizeof(struct conv));
			pr[npair] = (struct pair){ { c, s }, { false, false }, cv[npair] };
			npair++;
		}
		for (int i = 0, q = 1; i < npair; i++)
			for (int k = 0; k < 2; k++, q++)
				if (!pr[i].eof[k] && pf[q].revents)
					relay_step(&pr[i], k);
		if (!exited && waitpid(client->pid, &status, WNOHANG) == client->pid)
			exited = true, client->pid = 0;
	}
	for (int i = 0; i < npair; i++)
		close(pr[i].fd[0]), close(pr[i].fd[1]);
	assert_true(exited);
	/* its exit status is not looked at: curl 7.88 may take nginx's
	 * RST_STREAM(NO_ERROR) after an early answer for an error; what it
	 * sent and got is checked by the callers */
	(void)status;
	assert_true(npair > 0);
	return cv;
}

/* ---------------------------------------------------------- masking --- */

static struct sonde_redactor R;

static int setup(void **state)
{
	(void)state;
	sonde_redactor_init(&R);
	sonde_redactor_set_key(&R, "unit-key", 8);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sonde_redactor_free(&R);
	return 0;
}

static void chunk_of(struct sonde_chunk *c, int dir)
{
	memset(c, 0, sizeof(*c));
	c->seq_kind = SONDE_SEQ_STREAM64;
	c->conn_id = 1;
	tu_endpoint4(dir ? &c->flow.dst : &c->flow.src, 127, 0, 0, 1, 40000);
	tu_endpoint4(dir ? &c->flow.src : &c->flow.dst, 127, 0, 0, 1, 80);
}

/* Bytes p[0..n) of direction dir masked in chunks of the sizes given (the
 * last size repeated until the end). */
static uint8_t *mask_sizes(const uint8_t *p, size_t n, int dir, const size_t *size, size_t nsize)
{
	struct sonde_redact_stream *s = sonde_redact_stream_new(&R);
	struct sonde_stats st = { 0 };
	struct sonde_chunk c;
	chunk_of(&c, dir);
	uint8_t *out = tu_xmalloc(n);
	for (size_t at = 0, k = 0; at < n; k++) {
		size_t len = size[k < nsize ? k : nsize - 1];
		len = len < n - at ? len : n - at;
		c.seq = at;
		c.caplen = c.wirelen = (uint32_t)len;
		c.data = p + at;
		const struct sonde_chunk *m = sonde_redact_stream_chunk(s, &c, &st);
		assert_int_equal(m->caplen, len);
		memcpy(out + at, m->data, len);
		at += len;
	}
	sonde_redact_stream_free(s);
	return out;
}

/* Both directions through one masker, in the order and the chunks the
 * relay received them. */
static void mask_received(const struct conv *cv, uint8_t *out[2])
{
	struct sonde_redact_stream *s = sonde_redact_stream_new(&R);
	struct sonde_stats st = { 0 };
	size_t at[2] = { 0, 0 };
	for (int d = 0; d < 2; d++)
		out[d] = tu_xmalloc(cv->dir[d].len);
	for (uint32_t i = 0; i < cv->nchunk; i++) {
		int d = cv->chunk[i].dir;
		struct sonde_chunk c;
		chunk_of(&c, d);
		c.seq = at[d];
		c.caplen = c.wirelen = cv->chunk[i].len;
		c.data = cv->dir[d].p + at[d];
		const struct sonde_chunk *m = sonde_redact_stream_chunk(s, &c, &st);
		memcpy(out[d] + at[d], m->data, c.caplen);
		at[d] += c.caplen;
	}
	sonde_redact_stream_free(s);
}

/* ----------------------------------------------------- HTTP/2 fields --- */

/* The header fields of a direction's blocks, "name\tvalue\n" each, from
 * `start` (24 past a client's preface). False if a block does not decode. */
static bool h2_fields(const uint8_t *p, size_t n, size_t start, struct sonde_buf *out)
{
	nghttp2_hd_inflater *inf;
	assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
	struct sonde_buf block = { 0 };
	bool ok = true;
	for (size_t at = start; ok && at + 9 <= n;) {
		size_t len = (size_t)p[at] << 16 | (size_t)p[at + 1] << 8 | p[at + 2];
		uint8_t type = p[at + 3], flags = p[at + 4];
		if (at + 9 + len > n)
			break;
		const uint8_t *f = p + at + 9;
		size_t fl = len, pad = 0;
		if ((type == 1 || type == 5) && (flags & 0x8) && fl)
			pad = f[0], f++, fl--;
		size_t front = (type == 1 && (flags & 0x20) ? 5 : 0) + (type == 5 ? 4 : 0);
		if (type == 1 || type == 5 || type == 9) {
			ok = fl >= front + pad;
			if (ok)
				sonde_buf_append(&block, f + front, fl - front - pad);
		}
		if (ok && (type == 1 || type == 5 || type == 9) && (flags & 0x4)) {
			const uint8_t *in = block.p;
			size_t left = block.len;
			for (;;) {
				nghttp2_nv nv;
				int fin = 0;
				ssize_t k = nghttp2_hd_inflate_hd2(inf, &nv, &fin, in, left, 1);
				if (k < 0) {
					ok = false;
					break;
				}
				in += k, left -= (size_t)k;
				if (fin & NGHTTP2_HD_INFLATE_EMIT)
					sonde_buf_printf(out, "%.*s\t%.*s\n", (int)nv.namelen,
							 nv.name, (int)nv.valuelen, nv.value);
				if (fin & NGHTTP2_HD_INFLATE_FINAL)
					break;
			}
			nghttp2_hd_inflate_end_headers(inf);
			sonde_buf_reset(&block);
		}
		at += 9 + len;
	}
	sonde_buf_putc(out, 0);
	sonde_buf_free(&block);
	nghttp2_hd_inflate_del(inf);
	return ok;
}

/* The masked field values (in mf, line for line with the captured ones in
 * pf) have no byte of a secret left where the secret was. */
static void check_h2_fields(const char *pf, const char *mf, const char *const *secrets,
			    const char *how)
{
	while (*pf) {
		const char *pe = strchr(pf, '\n'), *me = strchr(mf, '\n');
		assert_true(pe && me);
		const char *pv = strchr(pf, '\t') + 1, *mv = strchr(mf, '\t') + 1;
		if (pv - pf != mv - mf || memcmp(pf, mf, (size_t)(pv - pf)))
			fail_msg("%s: field names differ: %.*s / %.*s", how, (int)(pe - pf), pf,
				 (int)(me - mf), mf);
		size_t plen = (size_t)(pe - pv), mlen = (size_t)(me - mv);
		for (size_t k = 0; secrets[k]; k++) {
			size_t sl = strlen(secrets[k]);
			for (const char *o = memmem(pv, plen, secrets[k], sl); o;
			     o = memmem(o + 1, plen - (size_t)(o + 1 - pv), secrets[k], sl)) {
				size_t off = (size_t)(o - pv);
				for (size_t i = off; i < off + sl && i < mlen; i++)
					if (mv[i] != '*')
						fail_msg("%s: %s survives in %.*s", how, secrets[k],
							 (int)(me - mf), mf);
			}
		}
		pf = pe + 1, mf = me + 1;
	}
	assert_int_equal(*mf, 0);
}

/* ------------------------------------------------------------ checks --- */

struct expect {
	const char *const *secrets; /* NULL-terminated */
	bool h2; /* a card number among them is masked whole, cut anywhere */
};

/* A field value mv of the cut stream against the whole stream's wv: the
 * same up to where the cut one's stars begin, stars from there on; or, a
 * literal's bytes starred one by one (digits at a chunk's end that may
 * begin a card), the whole's where not a star. */
static bool value_masks_more(const char *wv, size_t wl, const char *mv, size_t ml)
{
	bool bytewise = wl == ml;
	for (size_t i = 0; bytewise && i < wl; i++)
		bytewise = mv[i] == wv[i] || mv[i] == '*';
	if (bytewise)
		return true;
	size_t k = 0;
	while (k < wl && k < ml && wv[k] == mv[k])
		k++;
	for (; k < ml; k++)
		if (mv[k] != '*')
			return false;
	return true;
}

/*
 * A cut stream's mask m that is not the whole stream's: it may only mask
 * more (a secret's extent not known yet at a cut: a URL's authority, an
 * HTTP/2 URL value starred to its end). Text bytes differ only where m has
 * stars; HTTP/2 fields decode to the whole's up to where m's stars begin.
 * Returns false (so the case is counted): it is not identical.
 */
static bool masks_more(const uint8_t *p, const uint8_t *m, const uint8_t *whole, size_t n, int dir,
		       const struct expect *e, const char *how)
{
	bool h2 = e->h2;
	for (size_t i = 0; i < n && !h2; i++)
		if (m[i] != whole[i] && m[i] != '*')
			fail_msg("%s: byte %zu is %02x, %02x whole", how, i, m[i], whole[i]);
	if (h2) {
		struct sonde_buf wf = { 0 }, mf = { 0 };
		assert_true(h2_fields(whole, n, dir ? 0 : 24, &wf));
		assert_true(h2_fields(m, n, dir ? 0 : 24, &mf));
		const char *w = (const char *)wf.p, *c = (const char *)mf.p;
		while (*w && *c) {
			const char *we = strchr(w, '\n'), *ce = strchr(c, '\n');
			const char *wv = strchr(w, '\t') + 1, *cv = strchr(c, '\t') + 1;
			if (!value_masks_more(wv, (size_t)(we - wv), cv, (size_t)(ce - cv)))
				fail_msg("%s: %.*s masked as %.*s", how, (int)(we - w), w,
					 (int)(ce - c), c);
			w = we + 1, c = ce + 1;
		}
		assert_true(!*w && !*c);
		sonde_buf_free(&wf);
		sonde_buf_free(&mf);
	}
	size_t i = 0;
	while (m[i] == whole[i])
		i++;
	if (getenv("SONDE_TEST_VERBOSE"))
		print_message("%s: masks more from byte %zu: %.24s\n", how, i, (const char *)p + i);
	return false;
}

/* One masked form of direction dir's bytes p[0..n): true if it is the
 * whole stream's mask (or whole is NULL). */
static bool check_masked(const uint8_t *p, const uint8_t *m, size_t n, int dir,
			 const struct expect *e, const uint8_t *whole, const char *how)
{
	for (size_t k = 0; e->secrets[k]; k++) {
		size_t sl = strlen(e->secrets[k]);
		for (const uint8_t *o = memmem(p, n, e->secrets[k], sl); o;
		     o = memmem(o + 1, n - (size_t)(o + 1 - p), e->secrets[k], sl))
			for (size_t i = (size_t)(o - p); i < (size_t)(o - p) + sl; i++)
				if (m[i] != '*')
					fail_msg("%s: byte %zu of %s kept", how, i, e->secrets[k]);
	}
	if (e->h2) {
		struct sonde_buf pf = { 0 }, mf = { 0 };
		assert_true(h2_fields(p, n, dir ? 0 : 24, &pf));
		if (!h2_fields(m, n, dir ? 0 : 24, &mf))
			fail_msg("%s: the masked header blocks do not decode", how);
		check_h2_fields((const char *)pf.p, (const char *)mf.p, e->secrets, how);
		sonde_buf_free(&pf);
		sonde_buf_free(&mf);
	}
	return !whole || !memcmp(m, whole, n) || masks_more(p, m, whole, n, dir, e, how);
}

/* Direction dir of cv masked whole, as received, cut once at every
 * offset and byte by byte: returns how many bytes the mask changed. */
static size_t check_direction(const struct conv *cv, int dir, const uint8_t *received,
			      const struct expect *e, const char *name)
{
	const uint8_t *p = cv->dir[dir].p;
	size_t n = cv->dir[dir].len, one = 1;
	char how[96];
	if (!n)
		return 0;
	uint8_t *whole = mask_sizes(p, n, dir, &n, 1);
	snprintf(how, sizeof(how), "%s dir %d whole", name, dir);
	check_masked(p, whole, n, dir, e, NULL, how);
	snprintf(how, sizeof(how), "%s dir %d as received", name, dir);
	size_t same = check_masked(p, received, n, dir, e, whole, how), splits = n + 1;
	for (size_t cut = 1; cut < n; cut++) {
		size_t sizes[2] = { cut, n - cut };
		uint8_t *m = mask_sizes(p, n, dir, sizes, 2);
		snprintf(how, sizeof(how), "%s dir %d cut at %zu", name, dir, cut);
		same += check_masked(p, m, n, dir, e, whole, how);
		free(m);
	}
	uint8_t *m = mask_sizes(p, n, dir, &one, 1);
	snprintf(how, sizeof(how), "%s dir %d byte by byte", name, dir);
	same += check_masked(p, m, n, dir, e, whole, how);
	free(m);
	print_message("%s dir %d (%zu bytes): %zu of %zu splits masked as the whole\n", name, dir,
		      n, same, splits);
	size_t changed = 0;
	for (size_t i = 0; i < n; i++)
		changed += whole[i] != p[i];
	free(whole);
	return changed;
}

/* Every conversation of cvs, both directions; the secrets planted must be
 * in the captured bytes (or, for HTTP/2, their decoded fields). */
static void check_convs(struct conv **cvs, const struct expect e[2], const char *name)
{
	size_t changed[2] = { 0, 0 };
	for (int i = 0; cvs[i]; i++) {
		uint8_t *rec[2];
		mask_received(cvs[i], rec);
		for (int d = 0; d < 2; d++) {
			changed[d] += check_direction(cvs[i], d, rec[d], &e[d], name);
			free(rec[d]);
		}
	}
	assert_true(changed[0] > 0); /* each run's client sends secrets */
	(void)changed[1];
}

/* Each secret of e was really sent in direction dir of some conversation. */
static void check_planted(struct conv **cvs, int dir, const struct expect *e)
{
	for (size_t k = 0; e->secrets[k]; k++) {
		bool found = false;
		for (int i = 0; cvs[i] && !found; i++) {
			const struct sonde_buf *b = &cvs[i]->dir[dir];
			found = b->len &&
				memmem(b->p, b->len, e->secrets[k], strlen(e->secrets[k]));
			if (!found && e->h2 && b->len) {
				struct sonde_buf f = { 0 };
				assert_true(h2_fields(b->p, b->len, dir ? 0 : 24, &f));
				found = strstr((const char *)f.p, e->secrets[k]);
				sonde_buf_free(&f);
			}
		}
		if (!found)
			fail_msg("%s was not sent in direction %d", e->secrets[k], dir);
	}
}

/* -------------------------------------------------------- the cases --- */

static const char *const CURL_SECRETS[] = { "CURL-BEARER-1",
					    "CURL-COOKIE-2",
					    "CURL-APIKEY-3",
					    "CURL-URLPW-4",
					    "CURL-QUERY-5",
					    /* in fields no header rule names (Huffman-coded in h2) */
					    "CURL-CBPW-11",
					    "5500 0000 0000 0004",
					    "CURL-FORM-6",
					    "YWxpY2U6Q1VSTC1CQVNJQy03", /* alice:CURL-BASIC-7 */
					    "CURL-JSON-8",
					    "4111 1111 1111 1111",
					    NULL };
static const char *const NGINX_SECRETS[] = { "NGINX-COOKIE-9", "NGINX-JSON-10", NULL };

/* nginx on two loopback ports, HTTP/1.1 and h2c, answering every request
 * with a session cookie and a JSON token. The h2c server proxies to the
 * other, so that it reads a request's body before it answers (answering
 * early, it resets the stream and curl may not send the body). */
static void start_nginx(uint16_t h1, uint16_t h2)
{
	char *d = temp_dir(), conf[4096], path[300];
	snprintf(conf, sizeof(conf),
		 "daemon off; master_process off; worker_processes 1; pid %s/pid;\n"
		 "error_log %s/error.log;\nevents { worker_connections 64; }\n"
		 "http { access_log off; default_type application/json;\n"
		 " client_body_temp_path %s/b; proxy_temp_path %s/p; fastcgi_temp_path %s/f;\n"
		 " uwsgi_temp_path %s/u; scgi_temp_path %s/s;\n"
		 " server { listen 127.0.0.1:%u;\n"
		 "  location / { add_header Set-Cookie \"sid=NGINX-COOKIE-9; Path=/; HttpOnly\";\n"
		 "   return 200 '{\"access_token\":\"NGINX-JSON-10\",\"token_type\":\"bearer\"}'; "
		 "} }\n"
		 " server { listen 127.0.0.1:%u http2; location / { proxy_pass "
		 "http://127.0.0.1:%u; } } }\n",
		 d, d, d, d, d, d, d, h1, h2, h1);
	snprintf(path, sizeof(path), "%s/nginx.conf", d);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(conf, f);
	fclose(f);
	char *argv[] = { "nginx", "-p", d, "-e", "stderr", "-c", path, NULL };
	spawn(argv);
	wait_listening(h1, "nginx");
	wait_listening(h2, "nginx (h2c)");
}

/* curl's three requests: over HTTP/1.1 on one connection (--next), over
 * h2c one connection each (curl 7.88 fails to reuse nginx's). */
static void curl_run(int lfd, uint16_t relay, uint16_t server, bool h2)
{
	char u1[128], u2[128], u3[128];
	snprintf(u1, sizeof(u1), "http://127.0.0.1:%u/a?page=2&access_token=CURL-QUERY-5", relay);
	snprintf(u2, sizeof(u2), "http://127.0.0.1:%u/login", relay);
	snprintf(u3, sizeof(u3), "http://127.0.0.1:%u/j", relay);
	char *v = h2 ? "--http2-prior-knowledge" : "--http1.1";
	char *req[3][18] = {
		{ "-sf", "-o", "/dev/null", v, "-H", "Authorization: Bearer CURL-BEARER-1", "-H",
		  "Cookie: sid=CURL-COOKIE-2; lang=en", "-H", "X-Api-Key: CURL-APIKEY-3", "-e",
		  "https://bob:CURL-URLPW-4@example.test/x", "-H",
		  "X-Callback: https://carol:CURL-CBPW-11@cb.test/hook", "-H",
		  "X-Pay: 5500 0000 0000 0004", u1, NULL },
		{ "-sf", "-o", "/dev/null", v, "-d", "user=u&password=CURL-FORM-6", u2, NULL },
		{ "-sf", "-o", "/dev/null", v, "-u", "alice:CURL-BASIC-7", "-H",
		  "Content-Type: application/json", "-d",
		  "{\"user\":\"u\",\"password\":\"CURL-JSON-8\",\"card\":\"4111 1111 1111 1111\"}",
		  u3, NULL },
	};
	const char *const *sent[3] = { CURL_SECRETS, CURL_SECRETS + 7, CURL_SECRETS + 8 };
	size_t nsent[3] = { 7, 1, 3 };
	for (int k = 0; k < 3; k += h2 ? 1 : 3) {
		char *argv[48] = { "curl" };
		int n = 1;
		for (int q = k; q < (h2 ? k + 1 : 3); q++) {
			if (q > k)
				argv[n++] = "--next";
			for (int i = 0; req[q][i]; i++)
				argv[n++] = req[q][i];
		}
		struct conv **cvs = relay_client(lfd, server, argv);
		struct expect e[2] = { { CURL_SECRETS, h2 }, { NGINX_SECRETS, h2 } };
		for (int q = k; q < (h2 ? k + 1 : 3); q++) /* each request's secrets were sent */
			for (size_t i = 0; i < nsent[q]; i++) {
				const char *one[2] = { sent[q][i], NULL };
				check_planted(cvs, 0, &(struct expect){ one, h2 });
			}
		check_planted(cvs, 1, &e[1]);
		check_convs(cvs, e, h2 ? "curl h2c" : "curl http/1.1");
	}
}

static void curl_nginx(bool h2)
{
	if (!have("curl") || !have("nginx"))
		skip();
	uint16_t h1p = free_port(), h2p = free_port(), relay;
	start_nginx(h1p, h2p);
	int lfd = listen_lo(&relay);
	curl_run(lfd, relay, h2 ? h2p : h1p, h2);
	close(lfd);
}

static void test_curl_http1(void **state)
{
	(void)state;
	curl_nginx(false);
}

static void test_curl_h2c(void **state)
{
	(void)state;
	curl_nginx(true);
}

static const char *const REDIS_SECRETS[] = { "REDIS-PASS-1",	"REDIS-ALICE-2", "REDIS-CAROL-3",
					    "REDIS-MASTER-4", "REDIS-MIG-5",   "REDIS-TLSKEY-6",
					    NULL };
static const char *const REDIS_REPLY_SECRETS[] = { "REDIS-MASTER-4", NULL };

static void redis_server(const char *dir, uint16_t port, const char *pass, bool alice)
{
	char p[8];
	snprintf(p, sizeof(p), "%u", port);
	char *srv[] = { "redis-server", "--port", p,	   "--bind",  "127.0.0.1",	"--dir",
			(char *)dir,	"--save", "",	   "--appendonly", "no", "--requirepass",
			(char *)pass,	"--user", "alice", "on",	   ">REDIS-ALICE-2",
			"~*",		"&*",	  "+@all", NULL };
	if (!alice)
		srv[13] = NULL;
	spawn(srv);
	wait_listening(port, "redis-server");
}

/* redis-cli's ways of authenticating against redis-server, and the
 * commands that carry credentials (ACL SETUSER, CONFIG SET/GET, MIGRATE
 * to a second server that has its own password). */
static void test_redis_cli(void **state)
{
	(void)state;
	if (!have("redis-server") || !have("redis-cli"))
		skip();
	char *d = temp_dir(), *d2 = temp_dir(), relay_s[8], mig_s[8];
	uint16_t sp = free_port(), mp = free_port(), relay;
	redis_server(d, sp, "REDIS-PASS-1", true);
	redis_server(d2, mp, "REDIS-MIG-5", false);
	int lfd = listen_lo(&relay);
	snprintf(relay_s, sizeof(relay_s), "%u", relay);
	snprintf(mig_s, sizeof(mig_s), "%u", mp);
#define CLI "redis-cli", "-h", "127.0.0.1", "-p", relay_s, "--no-auth-warning"
#define AS_ROOT CLI, "-a", "REDIS-PASS-1"
	struct {
		char *argv[24];
		const char *sent, *got; /* a secret each way, that must be in the bytes */
	} runs[] = {
		{ { CLI, "-a", "REDIS-PASS-1", "SET", "k", "v", NULL }, "REDIS-PASS-1", NULL },
		{ { CLI, "--user", "alice", "--pass", "REDIS-ALICE-2", "GET", "k", NULL },
		  "REDIS-ALICE-2",
		  NULL },
		{ { CLI, "HELLO", "3", "AUTH", "alice", "REDIS-ALICE-2", NULL }, "REDIS-ALICE-2", NULL },
		{ { CLI, "-3", "-a", "REDIS-PASS-1", "PING", NULL }, "REDIS-PASS-1", NULL },
		{ { AS_ROOT, "ACL", "SETUSER", "carol", "on", ">REDIS-CAROL-3", "~*", "+@all", NULL },
		  "REDIS-CAROL-3",
		  NULL },
		{ { AS_ROOT, "CONFIG", "SET", "masterauth", "REDIS-MASTER-4", NULL },
		  "REDIS-MASTER-4",
		  NULL },
		{ { AS_ROOT, "CONFIG", "GET", "masterauth", NULL }, NULL, "REDIS-MASTER-4" },
		{ { AS_ROOT, "CONFIG", "SET", "tls-key-file-pass", "REDIS-TLSKEY-6", NULL },
		  "REDIS-TLSKEY-6",
		  NULL },
		{ { AS_ROOT, "MIGRATE", "127.0.0.1", mig_s, "k", "0", "5000", "COPY", "AUTH",
		    "REDIS-MIG-5", NULL },
		  "REDIS-MIG-5",
		  NULL },
		{ { AS_ROOT, "MIGRATE", "127.0.0.1", mig_s, "", "0", "5000", "REPLACE", "AUTH2",
		    "default", "REDIS-MIG-5", "KEYS", "k", NULL },
		  "REDIS-MIG-5",
		  NULL },
	};
#undef AS_ROOT
#undef CLI
	struct expect e[2] = { { REDIS_SECRETS, false }, { REDIS_REPLY_SECRETS, false } };
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		struct conv **cvs = relay_client(lfd, sp, runs[i].argv);
		for (int dir = 0; dir < 2; dir++) {
			const char *one[2] = { dir ? runs[i].got : runs[i].sent, NULL };
			if (one[0])
				check_planted(cvs, dir, &(struct expect){ one, false });
		}
		char name[32];
		snprintf(name, sizeof(name), "redis-cli run %zu", i);
		check_convs(cvs, e, name);
	}
	close(lfd);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(test_curl_http1),
		tu_test(test_curl_h2c),
		tu_test(test_redis_cli),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

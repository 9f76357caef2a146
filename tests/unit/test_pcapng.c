/* SPDX-License-Identifier: MIT */
/*
 * The pcapng writer, read back three ways: sonde's own capture-file reader
 * (frames byte-identical), tshark (HTTP dissection of synthetic TCP, expert
 * info with checksum checks on, lost segments at gaps) and sonde's file
 * source through a whole pipeline (the same exchanges the chunks carried).
 * Then rotation (-C, -W, -G, quota) and write errors (/dev/full, a closed
 * pipe). tshark checks are skipped when tshark is not installed.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/run.h"
#include "core/stage.h"
#include "sink/pcapng.h"
#include "source/file/capfile.h"
#include "source/file/file_source.h"
#include "source/packet/packet.h"

/* ------------------------------------------------------------ helpers --- */

static char tmpdir[64];

static void tmpdir_remove(void *arg)
{
	(void)arg;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (getenv("SONDE_TEST_KEEP")) /* to look at the files */
		fprintf(stderr, "kept %s\n", tmpdir);
	else if (tmpdir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	tmpdir[0] = 0;
}

/* A fresh directory for this test, removed by the teardown. */
static const char *tmp_path(const char *name)
{
	static char p[128];
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/sonde-pcapng.XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
		tu_cleanup_push(tmpdir_remove, NULL);
	}
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

static bool have_tshark(void)
{
	return system("command -v tshark >/dev/null 2>&1") == 0;
}

/* What a shell command printed on stdout (malloc'd). */
static char *run_out(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	struct tu_bytes b = { 0 };
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		tu_bytes_put(&b, buf, n);
	pclose(p);
	tu_u8(&b, 0);
	return (char *)b.p;
}

#define TSHARK "tshark -n -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE "

static char *tshark(const char *path, const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), TSHARK "-r '%s' %s 2>/dev/null", path, args);
	return run_out(cmd);
}

/* tshark's expert summary must have no errors: no malformed packet, no bad
 * checksum (checks on), nothing tshark could not dissect. */
static void assert_expert_clean(const char *path)
{
	char *ex = tshark(path, "-q -z expert");
	if (strstr(ex, "Errors (") || strstr(ex, "Malformed") || strstr(ex, "hecksum"))
		fail_msg("tshark expert info for %s:\n%s", path, ex);
	free(ex);
}

static struct sonde_pcapng *open_writer(const struct sonde_pcapng_opts *o)
{
	char err[256] = "";
	struct sonde_pcapng *w = sonde_pcapng_open(o, err, sizeof(err));
	if (!w)
		fail_msg("sonde_pcapng_open: %s", err);
	return w;
}

/* Frames of a capture file, counted; -1 if the reader found damage. */
static long count_frames(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	struct sonde_capfile *cf = sonde_capfile_open_fd(fd, path);
	struct sonde_frame f;
	long n = 0;
	int rc;
	while ((rc = sonde_capfile_next(cf, &f)) == 1)
		n++;
	if (rc < 0)
		fprintf(stderr, "%s\n", sonde_capfile_error(cf));
	sonde_capfile_close(cf);
	close(fd);
	return rc < 0 ? -1 : n;
}

/* A line of out that starts with prefix and holds needle. */
static bool has_line(const char *out, const char *prefix, const char *needle)
{
	for (const char *l = out; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		const char *e = strchr(l, '\n'), *h = strstr(l, needle);
		if (!strncmp(l, prefix, strlen(prefix)) && h && (!e || h < e))
			return true;
	}
	return false;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---------------------------------------------------- frames, as they are --- */

static void frames_roundtrip(void **state)
{
	(void)state;
	const char *path = tmp_path("frames.pcapng");
	struct sonde_pcapng_opts o = { .path = path };
	struct sonde_pcapng *w = open_writer(&o);
	int eth = sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0);
	int raw = sonde_pcapng_iface(w, "lo", SONDE_LINKTYPE_RAW, 65535);
	assert_int_equal(eth, 0);
	assert_int_equal(raw, 1);

	static uint8_t data[40][1600];
	struct sonde_frame f[40];
	struct tu_rng r;
	tu_rng_seed(&r, 12);
	for (int i = 0; i < 40; i++) {
		uint32_t len = 14 + (uint32_t)tu_rng_below(&r, 1500);
		for (uint32_t k = 0; k < len; k++)
			data[i][k] = (uint8_t)tu_rng_next(&r);
		f[i] = (struct sonde_frame){ .ts_ns = 1700000000123456789ull + (uint64_t)i * 1001,
					     .caplen = len,
					     .wirelen = len + (i % 7 == 3 ? 100 : 0),
					     .linktype = i % 3 ? SONDE_LINKTYPE_ETHERNET
							       : SONDE_LINKTYPE_RAW,
					     .data = data[i] };
		struct sonde_pcapng_meta m = { .method = "af_packet", .conn_id = (uint64_t)i + 1 };
		assert_int_equal(sonde_pcapng_frame(w, i % 3 ? eth : raw, &f[i], i % 2 ? &m : NULL),
				 0);
	}
	assert_int_equal(sonde_pcapng_frame(w, 5, &f[0], NULL), -1); /* no such interface */
	assert_null(sonde_pcapng_error(w));
	assert_int_equal(sonde_pcapng_close(w), 0);

	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct sonde_capfile *cf = sonde_capfile_open_fd(fd, path);
	struct sonde_frame g;
	for (int i = 0; i < 40; i++) {
		assert_int_equal(sonde_capfile_next(cf, &g), 1);
		assert_int_equal(g.ts_ns, f[i].ts_ns);
		assert_int_equal(g.caplen, f[i].caplen);
		assert_int_equal(g.wirelen, f[i].wirelen);
		assert_int_equal(g.linktype, f[i].linktype);
		assert_memory_equal(g.data, f[i].data, f[i].caplen);
	}
	assert_int_equal(sonde_capfile_next(cf, &g), 0);
	assert_string_equal(sonde_capfile_format(cf), "pcapng");
	sonde_capfile_close(cf);
	close(fd);

	if (!have_tshark())
		return;
	char *out = tshark(path, "-T fields -e frame.len -e frame.comment");
	struct tu_bytes want = { 0 };
	for (int i = 0; i < 40; i++) {
		char line[128];
		if (i % 2)
			snprintf(line, sizeof(line), "%u\tsonde: method=af_packet conn=%d\n",
				 f[i].wirelen, i + 1);
		else
			snprintf(line, sizeof(line), "%u\t\n", f[i].wirelen);
		tu_bytes_str(&want, line);
	}
	tu_u8(&want, 0);
	assert_string_equal(out, (char *)want.p);
	free(out);
	free(want.p);
	char *ifs = tshark(path, "-T fields -e frame.interface_name -c 3");
	assert_string_equal(ifs, "lo\neth0\neth0\n");
	free(ifs);
}

/* ------------------------------------------------ chunks as synthetic TCP --- */

struct conv {
	struct sonde_flow c2s, s2c;
	uint64_t conn_id, off[2];
	uint64_t ts;
	struct sonde_process proc;
};

static void conv_init(struct conv *v, int family, uint64_t conn_id, uint16_t port)
{
	memset(v, 0, sizeof(*v));
	struct sonde_endpoint a = { .family = (uint8_t)family, .port = 40000 + (uint16_t)conn_id };
	struct sonde_endpoint b = { .family = (uint8_t)family, .port = port };
	if (family == AF_INET) {
		memcpy(a.addr, "\x0a\x00\x00\x01", 4);
		memcpy(b.addr, "\x0a\x00\x00\x02", 4);
	} else {
		memcpy(a.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
		memcpy(b.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
	}
	v->c2s = (struct sonde_flow){ .src = a, .dst = b, .l4 = SONDE_L4_TCP };
	v->s2c = (struct sonde_flow){ .src = b, .dst = a, .l4 = SONDE_L4_TCP };
	v->conn_id = conn_id;
	v->ts = 1700000000000000000ull + conn_id * 1000000;
	v->proc.pid = 4242;
	snprintf(v->proc.comm, sizeof(v->proc.comm), "curl main");
}

/* One STREAM64 chunk of dir (0: client → server): caplen bytes of s, the
 * wire carried wirelen (>= caplen; 0: caplen). */
static void conv_send(struct sonde_pcapng *w, struct conv *v, int dir, const void *s,
		      uint32_t caplen, uint32_t wirelen, uint8_t flags)
{
	struct sonde_chunk c = {
		.flow = dir ? v->s2c : v->c2s,
		.ts_ns = v->ts += 1000,
		.seq = v->off[dir],
		.caplen = caplen,
		.wirelen = wirelen ? wirelen : caplen,
		.seq_kind = SONDE_SEQ_STREAM64,
		.flags = flags,
		.role = dir ? SONDE_ROLE_SRC_IS_SERVER : SONDE_ROLE_SRC_IS_CLIENT,
		.origin = SONDE_ORIGIN_EBPF_TLS_OPENSSL,
		.conn_id = v->conn_id,
		.proc = &v->proc,
		.data = s,
	};
	v->off[dir] += c.wirelen;
	assert_int_equal(sonde_pcapng_chunk(w, &c, NULL), 0);
}

static void conv_str(struct sonde_pcapng *w, struct conv *v, int dir, const char *s)
{
	conv_send(w, v, dir, s, (uint32_t)strlen(s), 0, 0);
}

/* ------------------------------------------- a pipeline over the file --- */

static bool collect_record(void *ctx, struct sonde_record *r)
{
	tu_collector_emit(ctx, r);
	return true;
}

static const struct sonde_stage_ops collect_ops = { .name = "collect",
						    .phase = SONDE_STAGE_SINK,
						    .record = collect_record };

static void collector_free_cb(void *c)
{
	tu_collector_free(c);
}

/* Every record sonde makes of the file, into col. */
static void read_records(const char *path, struct tu_collector *col, struct sonde_stats *st)
{
	tu_collector_init(col);
	tu_cleanup_push(collector_free_cb, col);
	struct sonde_run_opts ro = { 0 };
	sonde_pipeline_defaults(&ro.pipe);
	ro.pipe.conn.source = path;
	struct sonde_run run;
	sonde_run_init(&run, &ro);
	assert_int_equal(sonde_run_add_stage(&run, &collect_ops, col), 0);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct sonde_file_source_opts fo = { .fd = fd, .name = path };
	char err[512];
	assert_non_null(sonde_run_add_source(&run, &sonde_source_file, &fo, err, sizeof(err)));
	assert_int_equal(sonde_run_loop(&run), 0);
	sonde_run_finish(&run);
	*st = *sonde_run_stats(&run);
	assert_int_equal(sonde_run_free(&run), 0);
	close(fd);
	tu_collector_ok(col);
}

/* The record of `method target` and its response. */
static const struct tu_rec *find_exchange(const struct tu_collector *col, const char *method,
					  const char *target)
{
	for (size_t i = 0; i < col->n; i++) {
		const struct tu_rec *r = &col->r[i];
		if (r->req.method && !strcmp(r->req.method, method) && r->req.target &&
		    !strcmp(r->req.target, target))
			return r;
	}
	tu_collector_dump(col, "records");
	fail_msg("no record of %s %s", method, target);
	return NULL;
}

static void assert_exchange(const struct tu_collector *col, const char *method, const char *target,
			    int status, const char *body)
{
	const struct tu_rec *r = find_exchange(col, method, target);
	assert_true(r->resp.present);
	assert_int_equal(r->resp.status, status);
	assert_bytes(r->resp.body, r->resp.body_len, body, strlen(body));
}

/* Two HTTP/1.1 exchanges per connection, each message split across chunks;
 * the IPv4 and IPv6 connections interleaved. */
static void write_two_exchanges(struct sonde_pcapng *w, struct conv *v4, struct conv *v6)
{
	struct conv *v[2] = { v4, v6 };
	for (int i = 0; i < 2; i++)
		conv_send(w, v[i], 0, NULL, 0, 0, SONDE_CF_SYN);
	for (int i = 0; i < 2; i++)
		conv_str(w, v[i], 0, "GET /one HTTP/1.1\r\nHost: example\r\n");
	for (int i = 0; i < 2; i++)
		conv_str(w, v[i], 0, "\r\n");
	for (int i = 0; i < 2; i++)
		conv_str(w, v[i], 1, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
	for (int i = 0; i < 2; i++)
		conv_str(w, v[i], 1, "hello");
	for (int i = 0; i < 2; i++) {
		conv_str(w, v[i], 0, "POST /two HTTP/1.1\r\nHost: example\r\nContent-");
		conv_str(w, v[i], 0, "Length: 3\r\n\r\nabc");
		conv_str(w, v[i], 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
	}
	for (int i = 0; i < 2; i++) {
		conv_send(w, v[i], 0, NULL, 0, 0, SONDE_CF_FIN);
		conv_send(w, v[i], 1, NULL, 0, 0, SONDE_CF_FIN);
	}
}

static void http_synthetic(void **state)
{
	(void)state;
	const char *path = tmp_path("http.pcapng");
	struct sonde_pcapng_opts o = { .path = path };
	struct sonde_pcapng *w = open_writer(&o);
	struct conv v4, v6;
	conv_init(&v4, AF_INET, 7, 80);
	/* TLS plaintext on its real port: Wireshark dissects it as HTTP (and
	 * warns that it is not encrypted). */
	conv_init(&v6, AF_INET6, 8, 443);
	write_two_exchanges(w, &v4, &v6);
	struct sonde_pcapng_stats ws;
	sonde_pcapng_stats(w, &ws);
	assert_int_equal(ws.gaps, 0);
	assert_int_equal(ws.chunks_skipped, 0);
	/* Per connection: the handshake, one packet per data chunk, two FINs
	 * and the last ACK. */
	assert_int_equal(ws.packets, 2 * (3 + 7 + 3));
	assert_int_equal(sonde_pcapng_close(w), 0);

	struct tu_collector col;
	struct sonde_stats st;
	read_records(path, &col, &st);
	assert_int_equal(col.n, 4);
	assert_exchange(&col, "GET", "/one", 200, "hello");
	assert_exchange(&col, "POST", "/two", 404, "nope");
	assert_int_equal(st.gap_bytes, 0);
	int v6seen = 0;
	for (size_t i = 0; i < col.n; i++) {
		v6seen += col.r[i].client.family == AF_INET6;
		assert_int_equal(col.r[i].client.port,
				 col.r[i].client.family == AF_INET6 ? 40008 : 40007);
		assert_int_equal(col.r[i].server.port,
				 col.r[i].client.family == AF_INET6 ? 443 : 80);
		assert_true(col.r[i].role_known);
		assert_false(col.r[i].midstream);
		/* The request body made it too. */
		if (!strcmp(col.r[i].req.method, "POST"))
			assert_bytes(col.r[i].req.body, col.r[i].req.body_len, "abc", 3);
	}
	assert_int_equal(v6seen, 2);

	if (!have_tshark())
		return;
	char *out = tshark(path, "-Y http -T fields -e ipv6.src -e http.request.method "
				 "-e http.request.uri -e http.response.code");
	assert_string_equal(out, "\tGET\t/one\t\n"
				 "2001:db8::1\tGET\t/one\t\n"
				 "\t\t\t200\n"
				 "2001:db8::2\t\t\t200\n"
				 "\tPOST\t/two\t\n"
				 "\t\t\t404\n"
				 "2001:db8::1\tPOST\t/two\t\n"
				 "2001:db8::2\t\t\t404\n");
	free(out);
	assert_expert_clean(path);
	/* Handshakes, FINs and the last ACKs: both connections complete. */
	char *syn = tshark(path, "-Y 'tcp.flags.syn==1' -T fields -e tcp.flags.ack");
	assert_string_equal(syn, "0\n1\n0\n1\n");
	free(syn);
	char *cm = tshark(path, "-c 1 -T fields -e frame.comment -e frame.interface_name");
	assert_string_equal(
		cm, "sonde: method=ebpf-tls-openssl pid=4242 comm=curl_main conn=7\tebpf-tls\n");
	free(cm);
}

/* --------------------------------------------------------------- gaps --- */

static void gap_is_a_jump(void **state)
{
	(void)state;
	const char *path = tmp_path("gap.pcapng");
	struct sonde_pcapng_opts o = { .path = path };
	struct sonde_pcapng *w = open_writer(&o);
	struct conv v;
	conv_init(&v, AF_INET, 3, 80);
	conv_send(w, &v, 0, NULL, 0, 0, SONDE_CF_SYN);
	conv_str(w, &v, 0, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	conv_str(w, &v, 1, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
	/* 40 of the body's 100 bytes copied: the other 60 are a hole. */
	static const char body[100] = "0123456789012345678901234567890123456789";
	conv_send(w, &v, 1, body, 40, 100, 0);
	conv_str(w, &v, 0, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	conv_str(w, &v, 1, "HTTP/1.1 204 No Content\r\n\r\n");
	conv_send(w, &v, 0, NULL, 0, 0, SONDE_CF_FIN);
	conv_send(w, &v, 1, NULL, 0, 0, SONDE_CF_FIN);
	/* Another connection loses 1000 bytes between two requests (the
	 * source's ring buffer overflowed): the next chunk's offset jumps. */
	struct conv u;
	conv_init(&u, AF_INET, 4, 8080);
	conv_str(w, &u, 0, "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
	u.off[0] += 1000;
	conv_send(w, &u, 0, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n", 29, 0, SONDE_CF_LOSS_BEFORE);
	struct sonde_pcapng_stats ws;
	sonde_pcapng_stats(w, &ws);
	assert_int_equal(ws.gaps, 2);
	assert_int_equal(ws.gap_bytes, 60 + 1000);
	assert_int_equal(sonde_pcapng_close(w), 0);

	/* No invented bytes: the file holds 40 body bytes, not 100. */
	struct tu_collector col;
	struct sonde_stats st;
	read_records(path, &col, &st);
	assert_int_equal(st.gap_bytes, 60 + 1000);
	const struct tu_rec *a = find_exchange(&col, "GET", "/a");
	assert_true(a->resp.flags & SONDE_MF_GAP);
	assert_int_equal(a->resp.status, 200);
	const struct tu_rec *b = find_exchange(&col, "GET", "/b");
	assert_int_equal(b->resp.status, 204);

	if (!have_tshark())
		return;
	char *lost = tshark(path, "-Y tcp.analysis.lost_segment -T fields -e tcp.srcport "
				  "-e _ws.expert.message");
	assert_true(has_line(lost, "80\t", "Previous segment(s) not captured"));
	assert_true(has_line(lost, "40004\t", "Previous segment(s) not captured"));
	free(lost);
	char *ex = tshark(path, "-q -z expert");
	if (strstr(ex, "Malformed") || strstr(ex, "hecksum"))
		fail_msg("tshark expert info:\n%s", ex);
	free(ex);
}

/* No role hint and the server speaks first: the higher port is taken as
 * the client, so the handshake still goes the right way; a RST ends the
 * connection and a later chunk starts a new one. */
static void roles_and_rst(void **state)
{
	(void)state;
	const char *path = tmp_path("rst.pcapng");
	struct sonde_pcapng_opts o = { .path = path };
	struct sonde_pcapng *w = open_writer(&o);
	struct conv v;
	conv_init(&v, AF_INET, 0, 25); /* conn 0: keyed by the 4-tuple */
	struct sonde_chunk c = { .flow = v.s2c,
				 .ts_ns = 5,
				 .seq_kind = SONDE_SEQ_STREAM64,
				 .origin = SONDE_ORIGIN_EBPF_KPROBE,
				 .data = (const uint8_t *)"220 hi\r\n",
				 .caplen = 8,
				 .wirelen = 8 };
	assert_int_equal(sonde_pcapng_chunk(w, &c, NULL), 0);
	c = (struct sonde_chunk){ .flow = v.c2s,
				  .ts_ns = 6,
				  .seq_kind = SONDE_SEQ_STREAM64,
				  .origin = SONDE_ORIGIN_EBPF_KPROBE,
				  .flags = SONDE_CF_RST };
	assert_int_equal(sonde_pcapng_chunk(w, &c, NULL), 0);
	c.flags = 0;
	c.data = (const uint8_t *)"QUIT\r\n";
	c.caplen = c.wirelen = 6;
	assert_int_equal(sonde_pcapng_chunk(w, &c, NULL), 0);
	assert_int_equal(sonde_pcapng_close(w), 0);

	/* SYN 40000→25, SYN-ACK, ACK, "220", RST; then a new handshake. */
	static const struct {
		uint16_t sport;
		uint8_t flags;
		uint32_t len;
	} want[] = {
		{ 40000, SONDE_CF_SYN, 0 },
		{ 25, SONDE_CF_SYN | SONDE_CF_ACK, 0 },
		{ 40000, SONDE_CF_ACK, 0 },
		{ 25, SONDE_CF_ACK, 8 },
		{ 40000, SONDE_CF_RST | SONDE_CF_ACK, 0 },
		{ 40000, SONDE_CF_SYN, 0 },
		{ 25, SONDE_CF_SYN | SONDE_CF_ACK, 0 },
		{ 40000, SONDE_CF_ACK, 0 },
		{ 40000, SONDE_CF_ACK, 6 },
	};
	int fd = open(path, O_RDONLY);
	struct sonde_capfile *cf = sonde_capfile_open_fd(fd, path);
	struct sonde_frame f;
	struct sonde_stats st = { 0 };
	size_t n = 0;
	while (sonde_capfile_next(cf, &f) == 1) {
		struct sonde_chunk d;
		assert_true(n < sizeof(want) / sizeof(want[0]));
		assert_true(sonde_frame_chunk(&f, &st, &d));
		assert_int_equal(d.flow.src.port, want[n].sport);
		assert_int_equal(
			d.flags & (SONDE_CF_SYN | SONDE_CF_ACK | SONDE_CF_RST | SONDE_CF_FIN),
			want[n].flags);
		assert_int_equal(d.caplen, want[n].len);
		n++;
	}
	sonde_capfile_close(cf);
	close(fd);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	if (!have_tshark())
		return;
	char *cm = tshark(path, "-c 1 -T fields -e frame.comment -e frame.interface_name");
	assert_string_equal(cm, "sonde: method=ebpf-kprobe\tebpf\n");
	free(cm);
	assert_expert_clean(path);
}

/* -------------------------------------------------------- big chunks --- */

static void large_chunk_split(void **state)
{
	(void)state;
	const char *path = tmp_path("large.pcapng");
	struct sonde_pcapng_opts o = { .path = path };
	struct sonde_pcapng *w = open_writer(&o);
	enum { BODY = 200 << 10 };
	static char resp[BODY + 128];
	int hl =
		snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BODY);
	for (int i = 0; i < BODY; i++)
		resp[hl + i] = (char)('a' + i % 26);
	for (int fam = 0; fam < 2; fam++) {
		struct conv v;
		conv_init(&v, fam ? AF_INET6 : AF_INET, 20 + (uint64_t)fam, 80);
		conv_send(w, &v, 0, NULL, 0, 0, SONDE_CF_SYN);
		conv_str(w, &v, 0, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
		conv_send(w, &v, 1, resp, (uint32_t)(hl + BODY), 0, SONDE_CF_FIN);
		conv_send(w, &v, 0, NULL, 0, 0, SONDE_CF_FIN);
	}
	assert_int_equal(sonde_pcapng_close(w), 0);

	/* Every datagram's IP length says what it holds, none over 64 KiB. */
	int fd = open(path, O_RDONLY);
	struct sonde_capfile *cf = sonde_capfile_open_fd(fd, path);
	struct sonde_frame f;
	size_t big = 0;
	while (sonde_capfile_next(cf, &f) == 1) {
		assert_int_equal(f.linktype, SONDE_LINKTYPE_RAW);
		uint32_t iplen = (f.data[0] >> 4) == 4
					 ? (uint32_t)(f.data[2] << 8 | f.data[3])
					 : 40u + (uint32_t)(f.data[4] << 8 | f.data[5]);
		assert_int_equal(iplen, f.caplen);
		assert_true(f.caplen <= 65535 + 40);
		big += f.caplen > 60000;
	}
	sonde_capfile_close(cf);
	close(fd);
	assert_int_equal(big, 2 * 3); /* 200 KiB: three full segments and a rest */

	struct tu_collector col;
	struct sonde_stats st;
	read_records(path, &col, &st);
	assert_int_equal(col.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(col.r[i].resp.status, 200);
		assert_int_equal(col.r[i].resp.body_size, BODY);
	}
	if (!have_tshark())
		return;
	char *out = tshark(path, "-Y http.response -T fields -e http.response.code "
				 "-e http.content_length");
	assert_string_equal(out, "200\t204800\n200\t204800\n");
	free(out);
	assert_expert_clean(path);
}

/* ------------------------------------------------------------ rotation --- */

static void write_frames(struct sonde_pcapng *w, int n, uint64_t ts0, uint64_t step)
{
	static uint8_t pkt[300];
	memset(pkt, 0x45, sizeof(pkt));
	for (int i = 0; i < n; i++) {
		struct sonde_frame f = { .ts_ns = ts0 + (uint64_t)i * step,
					 .caplen = sizeof(pkt),
					 .wirelen = sizeof(pkt),
					 .data = pkt };
		assert_int_equal(sonde_pcapng_frame(w, 0, &f, NULL), 0);
	}
}

static void rotate_size(void **state)
{
	(void)state;
	/* -C without -W: name, name1, name2... all kept. */
	char base[128];
	snprintf(base, sizeof(base), "%s", tmp_path("c.pcapng"));
	struct sonde_pcapng_opts o = { .path = base, .rotate_bytes = 2000 };
	struct sonde_pcapng *w = open_writer(&o);
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), 0);
	write_frames(w, 40, 1000000000, 1000);
	assert_int_equal(sonde_pcapng_close(w), 0);
	long total = 0;
	char p[160];
	int nfiles = 0;
	for (int i = 0; i < 20; i++) {
		if (i)
			snprintf(p, sizeof(p), "%s%d", base, i);
		else
			snprintf(p, sizeof(p), "%s", base);
		if (!exists(p))
			break;
		long n = count_frames(p);
		assert_true(n > 0);
		/* Files pass the size by one packet at most. */
		struct stat sb;
		assert_int_equal(stat(p, &sb), 0);
		assert_true(sb.st_size <= 2000 + 400);
		total += n;
		nfiles++;
	}
	assert_int_equal(total, 40);
	assert_true(nfiles >= 5);

	/* -C with -W 3: name0, name1, name2, the oldest reused; each file
	 * stands alone and the newest holds the last packets. */
	snprintf(base, sizeof(base), "%s", tmp_path("w.pcapng"));
	o = (struct sonde_pcapng_opts){ .path = base, .rotate_bytes = 2000, .max_files = 3 };
	w = open_writer(&o);
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), 0);
	write_frames(w, 40, 1000000000, 1000);
	struct sonde_pcapng_stats ws;
	sonde_pcapng_stats(w, &ws);
	assert_int_equal(sonde_pcapng_close(w), 0);
	assert_false(exists(base));
	total = 0;
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%d", base, i);
		long n = count_frames(p);
		assert_true(n > 0);
		total += n;
	}
	snprintf(p, sizeof(p), "%s3", base);
	assert_false(exists(p));
	assert_true(total < 40);
	assert_true(ws.files > 3);
	assert_int_equal(ws.files_deleted, ws.files - 3);

	/* -W 12: two digits, name00... */
	snprintf(base, sizeof(base), "%s", tmp_path("w12-"));
	o = (struct sonde_pcapng_opts){ .path = base, .rotate_bytes = 2000, .max_files = 12 };
	w = open_writer(&o);
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), 0);
	write_frames(w, 20, 1000000000, 1000);
	assert_int_equal(sonde_pcapng_close(w), 0);
	snprintf(p, sizeof(p), "%s00", base);
	assert_true(count_frames(p) > 0);
	snprintf(p, sizeof(p), "%s01", base);
	assert_true(count_frames(p) > 0);
}

/* The Decryption Secrets Blocks of a file: their count, and whether each
 * holds exactly want (type TLSK); every block's two lengths agree. */
static int secrets_blocks(const char *path, const char *want, int *bad)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static uint8_t b[1 << 16];
	size_t n = fread(b, 1, sizeof(b), f);
	fclose(f);
	int found = 0;
	*bad = 0;
	for (size_t at = 0; at + 12 <= n;) {
		uint32_t type, len, tail;
		memcpy(&type, b + at, 4);
		memcpy(&len, b + at + 4, 4);
		if (len < 12 || len % 4 || at + len > n) {
			(*bad)++;
			break;
		}
		memcpy(&tail, b + at + len - 4, 4);
		*bad += tail != len;
		if (type == 0x0A) {
			uint32_t st, sl;
			memcpy(&st, b + at + 8, 4);
			memcpy(&sl, b + at + 12, 4);
			*bad += st != SONDE_PCAPNG_SECRETS_TLS || sl != strlen(want) ||
				memcmp(b + at + 16, want, sl) || len != 20 + ((sl + 3) & ~3u);
			found++;
		}
		at += len;
	}
	return found;
}

/* --record-keylog: the secrets block in the first file and after the
 * headers of every rotated one, so each decrypts alone. */
static void secrets_in_every_file(void **state)
{
	(void)state;
	static const char keys[] = "CLIENT_RANDOM 0101 0202\n"; /* 23 bytes: padded */
	char base[128];
	snprintf(base, sizeof(base), "%s", tmp_path("k.pcapng"));
	struct sonde_pcapng_opts o = { .path = base, .rotate_bytes = 2000 };
	struct sonde_pcapng *w = open_writer(&o);
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), 0);
	assert_int_equal(sonde_pcapng_secrets(w, SONDE_PCAPNG_SECRETS_TLS, keys, strlen(keys)), 0);
	write_frames(w, 30, 1000000000, 1000);
	assert_int_equal(sonde_pcapng_close(w), 0);
	int nfiles = 0;
	for (int i = 0; i < 20; i++) {
		char p[160];
		if (i)
			snprintf(p, sizeof(p), "%s%d", base, i);
		else
			snprintf(p, sizeof(p), "%s", base);
		if (!exists(p))
			break;
		int bad;
		assert_int_equal(secrets_blocks(p, keys, &bad), 1);
		assert_int_equal(bad, 0);
		if (have_tshark()) /* Wireshark's reader takes the block */
			assert_expert_clean(p);
		nfiles++;
	}
	assert_true(nfiles >= 3);
}

static void rotate_time_and_quota(void **state)
{
	(void)state;
	/* -G 1s with strftime: one file per second of packet time. */
	char base[128];
	snprintf(base, sizeof(base), "%s", tmp_path("g-%s.pcapng"));
	struct sonde_pcapng_opts o = { .path = base, .rotate_ns = 1000000000 };
	struct sonde_pcapng *w = open_writer(&o);
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), 0);
	write_frames(w, 6, 1000000000000ull, 500000000); /* 1000.0 .. 1002.5 s */
	assert_int_equal(sonde_pcapng_close(w), 0);
	for (int s = 1000; s <= 1002; s++) {
		char p[160];
		snprintf(p, sizeof(p), "%s/g-%d.pcapng", tmpdir, s);
		assert_int_equal(count_frames(p), 2);
	}

	/* A quota of 5000 bytes with -C 1500: the oldest files go. */
	snprintf(base, sizeof(base), "%s", tmp_path("q.pcapng"));
	o = (struct sonde_pcapng_opts){ .path = base, .rotate_bytes = 1500, .quota_bytes = 5000 };
	w = open_writer(&o);
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), 0);
	write_frames(w, 60, 1000000000, 1000);
	struct sonde_pcapng_stats ws;
	sonde_pcapng_stats(w, &ws);
	assert_int_equal(sonde_pcapng_close(w), 0);
	assert_true(ws.files_deleted > 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cat %s/q.pcapng* | wc -c", tmpdir);
	char *sz = run_out(cmd);
	assert_true(atol(sz) <= 5000);
	assert_true(atol(sz) > 2000);
	free(sz);
	assert_false(exists(base)); /* the first file was the oldest */

	/* A quota alone: the file is started over rather than passing it. */
	snprintf(base, sizeof(base), "%s", tmp_path("qa.pcapng"));
	o = (struct sonde_pcapng_opts){ .path = base, .quota_bytes = 3000 };
	w = open_writer(&o);
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), 0);
	write_frames(w, 30, 1000000000, 1000);
	assert_int_equal(sonde_pcapng_close(w), 0);
	snprintf(cmd, sizeof(cmd), "cat %s/qa.pcapng* | wc -c", tmpdir);
	sz = run_out(cmd);
	assert_true(atol(sz) <= 3000);
	free(sz);
}

static void bad_options(void **state)
{
	(void)state;
	char err[256];
	struct sonde_pcapng_opts o = { .path = "-", .rotate_bytes = 10 };
	assert_null(sonde_pcapng_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "-w -"));
	o = (struct sonde_pcapng_opts){ .path = tmp_path("x"), .max_files = 2 };
	assert_null(sonde_pcapng_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "-W"));
	o = (struct sonde_pcapng_opts){ .path = "/nonexistent/dir/x.pcapng" };
	assert_null(sonde_pcapng_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dir/x.pcapng"));
}

/* -------------------------------------------------------------- errors --- */

static void dev_full(void **state)
{
	(void)state;
	struct sonde_pcapng_opts o = { .path = "/dev/full" };
	struct sonde_pcapng *w = open_writer(&o);
	assert_non_null(sonde_pcapng_error(w));
	assert_non_null(strstr(sonde_pcapng_error(w), "No space left"));
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), -1);
	static const uint8_t pkt[60];
	struct sonde_frame f = { .caplen = 60, .wirelen = 60, .data = pkt };
	assert_int_equal(sonde_pcapng_frame(w, 0, &f, NULL), -1);
	struct conv v;
	conv_init(&v, AF_INET, 1, 80);
	struct sonde_chunk c = { .flow = v.c2s,
				 .caplen = 3,
				 .wirelen = 3,
				 .data = (const uint8_t *)"abc",
				 .seq_kind = SONDE_SEQ_STREAM64 };
	assert_int_equal(sonde_pcapng_chunk(w, &c, NULL), -1);
	assert_int_equal(sonde_pcapng_flush(w), -1);
	assert_int_equal(errno, ENOSPC);
	errno = 0;
	assert_int_equal(sonde_pcapng_close(w), -1);
	assert_int_equal(errno, ENOSPC);
}

/* The reader of a pipe goes away mid-capture: EPIPE, sticky, and what was
 * read before is whole blocks. */
static void closed_pipe(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	int p[2];
	assert_int_equal(pipe(p), 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
	struct sonde_pcapng_opts o = { .path = path };
	struct sonde_pcapng *w = open_writer(&o);
	close(p[1]);
	assert_int_equal(sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0), 0);
	write_frames(w, 10, 1000000000, 1000);
	static uint8_t got[65536];
	ssize_t n = read(p[0], got, sizeof(got));
	assert_true(n > 0);
	close(p[0]);
	static const uint8_t pkt[60];
	struct sonde_frame f = { .caplen = 60, .wirelen = 60, .data = pkt };
	assert_int_equal(sonde_pcapng_frame(w, 0, &f, NULL), -1);
	assert_non_null(strstr(sonde_pcapng_error(w), "Broken pipe"));
	assert_int_equal(sonde_pcapng_frame(w, 0, &f, NULL), -1);
	assert_int_equal(sonde_pcapng_close(w), -1);
	assert_int_equal(errno, EPIPE);
	/* What the reader got is a valid file of 10 frames. */
	struct sonde_capfile *cf = sonde_capfile_open_mem(got, (size_t)n, "pipe");
	struct sonde_frame g;
	int k = 0, rc;
	while ((rc = sonde_capfile_next(cf, &g)) == 1)
		k++;
	if (rc < 0)
		fail_msg("%s", sonde_capfile_error(cf));
	sonde_capfile_close(cf);
	assert_int_equal(k, 10);
}

/* Chunks that are not TCP over IP are counted, not written; a bounded
 * table evicts and starts connections over. */
static void skipped_and_evicted(void **state)
{
	(void)state;
	const char *path = tmp_path("evict.pcapng");
	struct sonde_pcapng_opts o = { .path = path, .max_conns = 2 };
	struct sonde_pcapng *w = open_writer(&o);
	struct sonde_chunk c = { .caplen = 1, .wirelen = 1, .data = (const uint8_t *)"x" };
	c.flow.l4 = SONDE_L4_TCP; /* family 0: a unix socket */
	assert_int_equal(sonde_pcapng_chunk(w, &c, NULL), 0);
	struct conv v[3];
	for (int i = 0; i < 3; i++) {
		conv_init(&v[i], AF_INET, 100 + (uint64_t)i, 80);
		conv_str(w, &v[i], 0, "GET / HTTP/1.1\r\n\r\n");
	}
	conv_str(w, &v[0], 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	struct sonde_pcapng_stats ws;
	sonde_pcapng_stats(w, &ws);
	assert_int_equal(ws.chunks_skipped, 1);
	assert_int_equal(ws.conn_evictions, 2);
	/* v[0] was evicted: a new handshake, then the response placed at its
	 * stream offset. */
	assert_int_equal(ws.packets, 3 * 4 + 4);
	assert_int_equal(sonde_pcapng_close(w), 0);
	assert_int_equal(count_frames(path), 16);
}

/* --------------------------------------------- packets through chunks --- */

/* A packet source's chunks (TCP32 sequence numbers) written as synthetic
 * TCP: renumbered from their first seq, the same conversation comes out. */
static void tcp32_chunks(void **state)
{
	(void)state;
	char a[160], b[160];
	snprintf(a, sizeof(a), "%s", tmp_path("a.pcapng"));
	snprintf(b, sizeof(b), "%s", tmp_path("b.pcapng"));
	struct sonde_pcapng_opts o = { .path = a };
	struct sonde_pcapng *w = open_writer(&o);
	struct conv v4, v6;
	conv_init(&v4, AF_INET, 7, 80);
	conv_init(&v6, AF_INET6, 8, 80);
	write_two_exchanges(w, &v4, &v6);
	assert_int_equal(sonde_pcapng_close(w), 0);

	o.path = b;
	w = open_writer(&o);
	int fd = open(a, O_RDONLY);
	struct sonde_capfile *cf = sonde_capfile_open_fd(fd, a);
	struct sonde_frame f;
	struct sonde_stats st = { 0 };
	while (sonde_capfile_next(cf, &f) == 1) {
		struct sonde_chunk c;
		assert_true(sonde_frame_chunk(&f, &st, &c));
		assert_int_equal(c.seq_kind, SONDE_SEQ_TCP32);
		c.origin = SONDE_ORIGIN_AF_PACKET;
		assert_int_equal(sonde_pcapng_chunk(w, &c, NULL), 0);
	}
	sonde_capfile_close(cf);
	close(fd);
	assert_int_equal(sonde_pcapng_close(w), 0);

	struct tu_collector col;
	read_records(b, &col, &st);
	assert_int_equal(col.n, 4);
	assert_exchange(&col, "GET", "/one", 200, "hello");
	assert_exchange(&col, "POST", "/two", 404, "nope");
	if (!have_tshark())
		return;
	const char *fields =
		"-T fields -e tcp.stream -e tcp.flags -e tcp.seq -e tcp.ack -e tcp.len";
	char *ta = tshark(a, fields), *tb = tshark(b, fields);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	assert_expert_clean(b);
}

/* TCP32 chunks whose sequence numbers wrap past 2^32, with no SYN seen
 * and a retransmission: renumbered, written once, dissected whole. */
static void tcp32_wrap(void **state)
{
	(void)state;
	const char *path = tmp_path("wrap.pcapng");
	struct sonde_pcapng_opts o = { .path = path };
	struct sonde_pcapng *w = open_writer(&o);
	struct conv v;
	conv_init(&v, AF_INET, 0, 80);
	static const char req[] = "GET /wrap HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	const struct {
		int dir;
		uint32_t seq;
		const char *p;
		uint32_t n;
	} seg[] = {
		{ 0, 0xfffffff0u, req, 20 },
		{ 0, 0xfffffff0u, req, 20 }, /* retransmitted */
		{ 0, 0x00000004u, req + 20, sizeof(req) - 21 },
		{ 1, 0x7ffffff0u, resp, sizeof(resp) - 1 },
	};
	for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
		struct sonde_chunk c = { .flow = seg[i].dir ? v.s2c : v.c2s,
					 .ts_ns = 10 + i,
					 .seq = seg[i].seq,
					 .seq_kind = SONDE_SEQ_TCP32,
					 .caplen = seg[i].n,
					 .wirelen = seg[i].n,
					 .origin = SONDE_ORIGIN_AF_PACKET,
					 .data = (const uint8_t *)seg[i].p };
		assert_int_equal(sonde_pcapng_chunk(w, &c, NULL), 0);
	}
	struct sonde_pcapng_stats ws;
	sonde_pcapng_stats(w, &ws);
	assert_int_equal(ws.packets, 3 + 3);
	assert_int_equal(ws.gaps, 0);
	assert_int_equal(sonde_pcapng_close(w), 0);
	struct tu_collector col;
	struct sonde_stats st;
	read_records(path, &col, &st);
	assert_int_equal(col.n, 1);
	assert_exchange(&col, "GET", "/wrap", 200, "ok");
	if (!have_tshark())
		return;
	char *ifs = tshark(path, "-c 1 -T fields -e frame.interface_name");
	assert_string_equal(ifs, "synthetic\n");
	free(ifs);
	assert_expert_clean(path);
}

/* ---------------------------------------------------------- to stdout --- */

/* `-w -` into a pipe read by `tshark -r -`. */
static void stdout_to_tshark(void **state)
{
	(void)state;
	if (!have_tshark()) {
		skip();
		return;
	}
	char out[160], cmd[256];
	snprintf(out, sizeof(out), "%s", tmp_path("tshark.txt"));
	snprintf(cmd, sizeof(cmd), "tshark -n -r - -T fields -e frame.len >'%s' 2>/dev/null", out);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *p = popen(cmd, "w");
	assert_non_null(p);
	dup2(fileno(p), STDOUT_FILENO);
	struct sonde_pcapng_opts o = { .path = "-" };
	struct sonde_pcapng *w = open_writer(&o);
	int ok = sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0) == 0;
	write_frames(w, 5, 1000000000, 1000);
	ok = ok && sonde_pcapng_close(w) == 0;
	dup2(saved, STDOUT_FILENO);
	close(saved);
	pclose(p);
	assert_true(ok);
	snprintf(cmd, sizeof(cmd), "cat '%s'", out);
	char *got = run_out(cmd);
	assert_string_equal(got, "300\n300\n300\n300\n300\n");
	free(got);
}

/* ------------------------------------------------------ killed writer --- */

/* Killed (SIGTERM, default action) while writing as fast as it can: every
 * file left is whole blocks. */
/* As sonde capture: SIGTERM is caught and the current write finishes. (A
 * fatal signal — SIGKILL, or SIGTERM left at its default — can stop the
 * kernel in the middle of a write to a file, leaving the last block cut;
 * readers then name it as cut short.) */
static volatile sig_atomic_t term_seen;

static void on_term(int sig)
{
	(void)sig;
	term_seen = 1;
}

static void killed_mid_write(void **state)
{
	(void)state;
	char base[160];
	snprintf(base, sizeof(base), "%s", tmp_path("k.pcapng"));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGTERM, on_term);
		struct sonde_pcapng_opts o = { .path = base,
					       .rotate_bytes = 1 << 20,
					       .max_files = 2 };
		char err[256];
		struct sonde_pcapng *w = sonde_pcapng_open(&o, err, sizeof(err));
		if (!w || sonde_pcapng_iface(w, "eth0", SONDE_LINKTYPE_ETHERNET, 0) < 0)
			_exit(2);
		static uint8_t pkt[9000];
		for (uint64_t i = 0; !term_seen; i++) {
			struct sonde_frame f = { .ts_ns = i,
						 .caplen = 60 + (uint32_t)(i * 7919 % 8900),
						 .data = pkt };
			f.wirelen = f.caplen;
			if (sonde_pcapng_frame(w, 0, &f, NULL) < 0)
				_exit(3);
		}
		_exit(0); /* no close: only what was written */
	}
	usleep(200 * 1000);
	kill(pid, SIGTERM);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	int files = 0;
	for (int i = 0; i < 2; i++) {
		char p[180];
		snprintf(p, sizeof(p), "%s%d", base, i);
		if (!exists(p))
			continue;
		files++;
		assert_true(count_frames(p) >= 0);
	}
	assert_true(files >= 1);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(frames_roundtrip),      tu_test(http_synthetic),
		tu_test(gap_is_a_jump),         tu_test(roles_and_rst),
		tu_test(large_chunk_split),     tu_test(rotate_size),
		tu_test(secrets_in_every_file), tu_test(rotate_time_and_quota),
		tu_test(bad_options),           tu_test(dev_full),
		tu_test(closed_pipe),           tu_test(skipped_and_evicted),
		tu_test(tcp32_chunks),          tu_test(tcp32_wrap),
		tu_test(stdout_to_tshark),      tu_test(killed_mid_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

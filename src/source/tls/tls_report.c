/* SPDX-License-Identifier: MIT */
/*
 * `sonde tls` (TLS discovery, see tls_priv.h): per process, the targets it
 * maps and their status, as a table or JSON Lines; then the targets no
 * process maps that are worth a line, and what the limits left out.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/buf.h"
#include "source/tls/tls_priv.h"

/* =============================================================== print === */

/* One line of `sonde tls`: a target as one process (or none) uses it. */
struct row {
	const struct proc *p; /* NULL: no process maps it now */
	const struct target *t;
	enum sonde_tls_status status;
	const char *why;
};

static struct row row_of(const struct proc *p, const struct target *t, const struct link *l)
{
	struct row r = { p, t, t->t.status, t->t.why };
	if (l && t->t.per_process)
		r.status = (enum sonde_tls_status)l->status;
	if (r.status != SONDE_TLS_ST_ATTACH_FAILED && r.status != SONDE_TLS_ST_NO_SYMBOLS &&
	    r.status != SONDE_TLS_ST_UNSUPPORTED)
		r.why = "";
	return r;
}

static void row_text(FILE *out, const struct row *r)
{
	char pid[16];
	snprintf(pid, sizeof(pid), r->p ? "%u" : "-", r->p ? r->p->pid : 0);
	fprintf(out, "%-8s %-16s %-10s %-28s %-14s %s\n", pid, r->p ? r->p->comm : "-", r->t->label,
		r->t->t.version, sonde_tls_status_name(r->status), r->t->t.display_path);
	if (r->why[0])
		fprintf(out, "%-8s   why: %s\n", "", r->why);
}

static void row_json(FILE *out, const struct row *r, struct sonde_buf *b)
{
	const struct sonde_tls_target *t = &r->t->t;
	sonde_buf_reset(b);
	sonde_buf_puts(b, "{\"pid\":");
	if (r->p)
		sonde_buf_u64(b, r->p->pid);
	else
		sonde_buf_puts(b, "null");
	sonde_buf_puts(b, ",\"comm\":");
	if (r->p)
		sonde_json_cstr(b, r->p->comm);
	else
		sonde_buf_puts(b, "null");
	sonde_buf_puts(b, ",\"library\":");
	sonde_json_cstr(b, r->t->label);
	sonde_buf_puts(b, ",\"version\":");
	sonde_json_cstr(b, t->version);
	sonde_buf_puts(b, ",\"status\":");
	sonde_json_cstr(b, sonde_tls_status_name(r->status));
	if (r->why[0]) {
		sonde_buf_puts(b, ",\"why\":");
		sonde_json_cstr(b, r->why);
	}
	sonde_buf_puts(b, ",\"path\":");
	sonde_json_cstr(b, t->display_path);
	sonde_buf_printf(b, ",\"executable\":%s,\"per_process\":%s,\"functions\":[",
			 t->is_executable ? "true" : "false", t->per_process ? "true" : "false");
	for (size_t i = 0; i < t->nfuncs; i++) {
		if (i)
			sonde_buf_putc(b, ',');
		sonde_json_cstr(b, t->funcs[i].symbol);
	}
	sonde_buf_puts(b, "]}\n");
	fwrite(b->p, 1, b->len, out);
}

static int by_pid(const void *a, const void *b)
{
	uint32_t x = (*(const struct proc *const *)a)->pid,
		 y = (*(const struct proc *const *)b)->pid;
	return x < y ? -1 : x > y;
}

static void print_row(FILE *out, bool json, struct sonde_buf *b, const struct row *r)
{
	if (json)
		row_json(out, r, b);
	else
		row_text(out, r);
}

/* The processes, by pid; free() the array. */
static const struct proc **procs_sorted(const struct sonde_tls_discovery *d, size_t *n)
{
	const struct proc **procs = sonde_xcalloc(d->nprocs + 1, sizeof(*procs));
	*n = 0;
	for (size_t i = 0; i < d->procs.cap; i++)
		if (d->procs.keys[i])
			procs[(*n)++] = (const struct proc *)(uintptr_t)d->procs.vals[i];
	qsort(procs, *n, sizeof(*procs), by_pid);
	return procs;
}

/* A target no process uses now worth a line: added by hand, or its uprobes
 * (in every process) outlive the processes seen using it. */
static bool listed_alone(const struct target *t)
{
	bool attached = !t->t.per_process && (t->t.status == SONDE_TLS_ST_CAPTURING ||
					      t->t.status == SONDE_TLS_ST_ATTACH_FAILED);
	return !t->t.nprocs && (t->by_hand || attached);
}

/* What the limits left out, in a line. */
static void print_lost(const struct sonde_tls_discovery *d, FILE *out, const struct proc **procs,
		       size_t n)
{
	unsigned long overflow = 0;
	for (size_t i = 0; i < n; i++)
		overflow += procs[i]->overflow;
	if (d->lost_targets || d->lost_procs)
		fprintf(out, "not tracked (limits): %lu libraries, %lu processes\n",
			d->lost_targets, d->lost_procs);
	if (overflow)
		fprintf(out,
			"%lu processes map more than %u TLS libraries: the rest are not listed\n",
			overflow, MAX_LINKS);
}

void sonde_tls_print(const struct sonde_tls_discovery *d, FILE *out, bool json)
{
	size_t n, rows = 0;
	const struct proc **procs = procs_sorted(d, &n);
	struct sonde_buf b = { 0 };
	if (!json)
		fprintf(out, "%-8s %-16s %-10s %-28s %-14s %s\n", "PID", "COMM", "LIBRARY",
			"VERSION", "STATUS", "PATH");
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < procs[i]->nlinks; k++, rows++) {
			const struct link *l = &procs[i]->links[k];
			struct row r = row_of(procs[i], d->targets[l->target], l);
			print_row(out, json, &b, &r);
		}
	}
	for (size_t i = 0; i < d->ntargets; i++) {
		if (!listed_alone(d->targets[i]))
			continue;
		struct row r = row_of(NULL, d->targets[i], NULL);
		print_row(out, json, &b, &r);
		rows++;
	}
	if (!json && !rows)
		fprintf(out, "(no TLS library found)\n");
	if (!json)
		print_lost(d, out, procs, n);
	sonde_buf_free(&b);
	free(procs);
}

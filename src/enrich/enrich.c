// SPDX-License-Identifier: MIT
#include "enrich/enrich.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enrich/cgroup_ids.h"
#include "enrich/cri.h"
#include "enrich/holders.h"
#include "enrich/packet_ends.h"
#include "enrich/socket.h"
#include "enrich/workload.h"

struct enrich {
	char proc[128];
	struct sonde_stats *stats;
	struct sonde_proc_cache *procs;
	struct sonde_container_cache *ctrs; /* NULL: ids only */
	struct sonde_cri *cri; /* NULL: no CRI socket */
	struct sonde_sock_owners *owners;
	struct sonde_packet_ends *packets; /* NULL: packet records left alone */
	struct sonde_kube *kube; /* NULL: no Kubernetes API */
	struct sonde_holders *holders; /* sockets the source saw opened */
	/* cgroup id → path, for processes gone before /proc was read; made
	 * when first needed (NULL: not yet, or no cgroup v2 tree) */
	struct sonde_cgroup_ids *cgroups;
	bool cgroups_tried;
	char cgroup_root[128]; /* "": found in mountinfo */
};

static void end_free(struct sonde_enrich_end *e)
{
	if (!e)
		return;
	sonde_container_meta_unref(e->ctr);
	free(e->service);
	free(e->service_ns);
	free(e);
}

static void conn_free(void *p)
{
	struct sonde_enrich_conn *ec = p;
	for (int i = 0; i < 2; i++)
		if (ec->end[i] != ec->traced)
			end_free(ec->end[i]);
	end_free(ec->traced);
	free(ec);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Process pid and its container, copied out of the caches; NULL if unknown. */
static struct sonde_enrich_end *end_of(struct enrich *en, uint32_t pid)
{
	const struct sonde_proc_info *pi = sonde_proc_lookup(en->procs, pid);
	if (!pi)
		return NULL;
	struct sonde_enrich_end *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->proc = *pi;
	if (en->ctrs && pi->ctr.id[0])
		e->ctr = sonde_container_lookup(en->ctrs, &pi->ctr, now_ns());
	return e;
}

/* A process gone before /proc could be read: what the kernel said of it
 * (pid, comm, cgroup id), its container from its cgroup's path. */
static struct sonde_enrich_end *kernel_end(struct enrich *en, uint32_t pid, const char *comm,
					   uint64_t cgroup_id)
{
	struct sonde_enrich_end *e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->proc.pid = pid;
	e->proc.uid = (uint32_t)-1;
	snprintf(e->proc.comm, sizeof(e->proc.comm), "%s", comm);
	if (!en->cgroups_tried && cgroup_id) {
		en->cgroups_tried = true;
		en->cgroups = sonde_cgroup_ids_new(*en->cgroup_root ? en->cgroup_root : NULL, 0);
	}
	const char *rel = en->cgroups && cgroup_id
				  ? sonde_cgroup_ids_path(en->cgroups, cgroup_id, now_ns())
				  : NULL;
	if (!rel)
		return e;
	snprintf(e->proc.cgroup, sizeof(e->proc.cgroup), "%s", rel);
	sonde_cgroup_parse(rel, strlen(rel), &e->proc.ctr);
	if (en->ctrs && e->proc.ctr.id[0])
		e->ctr = sonde_container_lookup(en->ctrs, &e->proc.ctr, now_ns());
	return e;
}

/* An end whose process sonde could not find (its socket is in another
 * network namespace: a pod on this node) is named by its pod's IP, when the
 * CRI listing has a pod with that IP. No process, no container. */
static struct sonde_enrich_end *pod_end(struct enrich *en, const struct sonde_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN];
	if (!en->ctrs || !en->cri ||
	    !inet_ntop(ep->family == AF_INET6 ? AF_INET6 : AF_INET, ep->addr, ip, sizeof(ip)))
		return NULL;
	struct sonde_container_meta *m = sonde_container_pod_by_ip(en->ctrs, ip);
	if (!m)
		return NULL;
	struct sonde_enrich_end *e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->ctr = m;
	return e;
}

/* An end nothing on the node named (a remote peer), named by the
 * Kubernetes API: a pod with its IP, else a Service with it as cluster IP. */
static struct sonde_enrich_end *kube_end(struct enrich *en, const struct sonde_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN], name[254], ns[254];
	if (!inet_ntop(ep->family == AF_INET6 ? AF_INET6 : AF_INET, ep->addr, ip, sizeof(ip)))
		return NULL;
	struct sonde_container_meta *m = sonde_kube_pod_by_ip(en->kube, ip);
	bool svc = !m && sonde_kube_service_by_ip(en->kube, ip, name, sizeof(name), ns, sizeof(ns));
	if (!m && !svc)
		return NULL;
	struct sonde_enrich_end *e = calloc(1, sizeof(*e));
	if (!e || (svc && (!(e->service = strdup(name)) || !(e->service_ns = strdup(ns)))))
		abort();
	e->ctr = m;
	if (en->stats)
		en->stats->kube_api_ends_named++;
	return e;
}

/* An end to look for by address: unknown, or a process whose pod sonde
 * could not tell (its socket traced in another network namespace, no
 * container found for it). */
static bool end_unnamed(const struct sonde_enrich_end *e)
{
	return !e || (!e->ctr && !e->service);
}

/* What an address told, with the process sonde already had (if any): a new
 * end object, since the renderers keep an end's text while it is the same. */
static struct sonde_enrich_end *end_named(struct sonde_enrich_conn *ec, int e,
					  struct sonde_enrich_end *found)
{
	struct sonde_enrich_end *have = ec->end[e];
	if (!have)
		return found;
	found->proc = have->proc;
	if (have != ec->traced && have != ec->end[!e])
		end_free(have);
	return found;
}

/* Ends still unnamed, looked up by address: the node's pods (CRI, for an
 * end with no process), then the Kubernetes API's (which leaves
 * host-network pods out). The API is asked again only once it knows more. */
static void name_unknown_ends(struct enrich *en, struct sonde_enrich_conn *ec,
			      const struct sonde_conn_info *c)
{
	uint64_t gen = en->kube ? sonde_kube_generation(en->kube) : 0;
	bool fresh = !ec->kube_generation;
	if (!fresh && gen == ec->kube_generation)
		return;
	for (int e = 0; e < 2; e++) {
		const struct sonde_endpoint *ep = e ? &c->server : &c->client;
		struct sonde_enrich_end *have = ec->end[e], *found = NULL;
		if (!end_unnamed(have))
			continue;
		if (!have && fresh)
			found = pod_end(en, ep);
		if (!found && en->kube)
			found = kube_end(en, ep);
		if (!found)
			continue;
		ec->end[e] = end_named(ec, e, found);
		sonde_attr_set(c->attrs, e ? SONDE_ATTR_SERVER_PROCESS : SONDE_ATTR_CLIENT_PROCESS,
			       ec->end[e], NULL);
	}
	ec->kube_generation = gen ? gen : 1;
}

/*
 * Which end the traced process is (0 client, 1 server, -1 unknown), and a
 * socket of the other end when it is on this host too (*other_ino, else 0).
 * A socket found is asked who holds it: finding it does not say whose it is.
 * When the connection's own sockets are gone (it closed before its first
 * record), a listener on the server's port still tells: the traced process
 * holding it is the server; else the listener's holder is the server and
 * the traced process, which did not accept there, the client.
 */
static int place(struct enrich *en, const struct sonde_conn_info *c, uint64_t *other_ino)
{
	uint64_t ino[2], lino;
	*other_ino = 0;
	if (!sonde_sock_inodes(en->proc, c->proc.pid, &c->client, &c->server, &ino[0], &ino[1],
			       &lino))
		return -1;
	/* One socket left: the traced process's own, or (a server that closed
	 * first, its socket an orphan) the peer's, still held by the peer. */
	for (int k = 0; k < 2; k++)
		if (ino[k] && !ino[!k]) {
			if (sonde_sock_owners_holds(en->owners, c->proc.pid, ino[k]))
				return k;
			*other_ino = ino[k];
			return !k;
		}
	if (!ino[0]) {
		if (!lino)
			return -1;
		if (sonde_sock_owners_holds(en->owners, c->proc.pid, lino))
			return 1;
		*other_ino = lino;
		return 0;
	}
	for (int k = 0; k < 2; k++)
		if (sonde_sock_owners_holds(en->owners, c->proc.pid, ino[k])) {
			*other_ino = ino[!k];
			return k;
		}
	return -1;
}

/* cgroup_skb: the socket's cgroup names a container that no process found
 * at an end carries; it goes to the one end whose socket is on this host
 * and whose process was not found, if there is exactly one such end. */
static void place_cgroup(struct enrich *en, struct sonde_enrich_conn *ec,
			 const struct sonde_packet_found *f)
{
	if (!f->cg.id[0])
		return;
	for (int e = 0; e < 2; e++)
		if (ec->end[e] && !strcmp(ec->end[e]->proc.ctr.id, f->cg.id))
			return;
	int at = f->socket[0] && !ec->end[0] ? 0 : -1;
	if (f->socket[1] && !ec->end[1])
		at = at < 0 ? 1 : -1;
	if (at < 0)
		return;
	struct sonde_enrich_end *e = calloc(1, sizeof(*e));
	if (!e)
		abort();
	e->proc.uid = (uint32_t)-1;
	e->proc.ctr = f->cg;
	snprintf(e->proc.cgroup, sizeof(e->proc.cgroup), "%s", f->cg_path);
	if (en->ctrs)
		e->ctr = sonde_container_lookup(en->ctrs, &f->cg, now_ns());
	ec->end[at] = e;
}

/* A packet source's connection: its local ends from the socket table. */
static struct sonde_enrich_conn *packet_conn(struct enrich *en, const struct sonde_conn_info *c)
{
	struct sonde_packet_found f;
	sonde_packet_ends_find(en->packets, c, &f);
	struct sonde_enrich_conn *ec = calloc(1, sizeof(*ec));
	if (!ec)
		abort();
	if (f.pid[0] && f.pid[0] == f.pid[1]) { /* a process talking to itself */
		ec->traced = end_of(en, f.pid[0]);
		ec->end[0] = ec->end[1] = ec->traced;
	} else {
		for (int e = 0; e < 2; e++)
			if (f.pid[e])
				ec->end[e] = end_of(en, f.pid[e]);
	}
	place_cgroup(en, ec, &f);
	return ec;
}

/* The pid the source saw open end e's socket (0 client, 1 server); 0: none. */
static uint32_t held_by(struct enrich *en, const struct sonde_conn_info *c, int e, uint32_t netns,
			const struct sonde_holder **who)
{
	const struct sonde_endpoint *l = e ? &c->server : &c->client;
	*who = sonde_holders_get(en->holders, l, e ? &c->client : &c->server, netns);
	return *who ? (*who)->pid : 0;
}

/* What the socket tables could not tell, from who opened the sockets: the
 * traced process's end when its sockets are gone, the other end when its
 * socket is gone or in another network namespace. Returns the traced end. */
static int place_held(struct enrich *en, struct sonde_enrich_conn *ec,
		      const struct sonde_conn_info *c, int k)
{
	uint32_t netns = ec->traced && ec->traced->proc.netns
				 ? ec->traced->proc.netns
				 : sonde_holders_netns_of(en->holders, c->proc.pid);
	const struct sonde_holder *who;
	for (int j = 0; j < 2 && k < 0; j++)
		if (held_by(en, c, j, netns, &who) == c->proc.pid) {
			k = j;
			ec->end[k] = ec->traced;
		}
	if (k < 0 || ec->end[!k])
		return k;
	uint32_t other = held_by(en, c, !k, netns, &who);
	if (!other)
		return k;
	if (other == c->proc.pid) {
		ec->end[!k] = ec->traced;
		return k;
	}
	ec->end[!k] = end_of(en, other);
	if (!ec->end[!k])
		ec->end[!k] = kernel_end(en, other, who->comm, who->cgroup_id);
	if (en->stats)
		en->stats->enrich_held_ends++;
	return k;
}

/* A connection record whose connection no exchange enriched, its process
 * gone: its sockets went with it, and looking for them (init's text
 * tables, a walk of every socket on the host) for each of the thousands a
 * process may close as it exits would stall the capture. */
static bool gone_with_its_sockets(const struct enrich *en, const struct sonde_record *r)
{
	char path[192];
	if (!(r->flags & SONDE_RF_CONNECTION))
		return false;
	snprintf(path, sizeof(path), "%s/%u/net/tcp6", en->proc, r->conn->proc.pid);
	return access(path, R_OK) < 0;
}

/* An eBPF connection: the traced process placed at its end, the other
 * end's found through the other socket, or through who opened it. */
static struct sonde_enrich_conn *traced_conn(struct enrich *en, const struct sonde_record *r)
{
	const struct sonde_conn_info *c = r->conn;
	struct sonde_enrich_conn *ec = calloc(1, sizeof(*ec));
	if (!ec)
		abort();
	ec->traced = end_of(en, c->proc.pid);
	if (!ec->traced) /* gone before /proc could be read */
		ec->traced = kernel_end(en, c->proc.pid, c->proc.comm, c->proc.cgroup_id);
	uint64_t other_ino = 0;
	/* The socket tables placed are TCP's; a UDP flow (a lookup each) keeps
	 * only the traced process's own details. */
	bool look = c->l4 != SONDE_L4_UDP && !gone_with_its_sockets(en, r);
	int k = look ? place(en, c, &other_ino) : -1;
	if (k < 0 && c->peer_proc.pid)
		k = c->peer_is_server ? 0 : 1; /* the traced end is the other's opposite */
	if (k >= 0) {
		ec->end[k] = ec->traced;
		uint32_t other = other_ino ? sonde_sock_owner(en->owners, other_ino, 0) : 0;
		if (!other) /* the other end's socket traced too, maybe in another namespace */
			other = c->peer_proc.pid;
		if (other == c->proc.pid)
			ec->end[!k] = ec->traced; /* a process talking to itself */
		else if (other)
			ec->end[!k] = end_of(en, other);
	}
	if (c->l4 != SONDE_L4_UDP)
		place_held(en, ec, c, k);
	return ec;
}

void sonde_enrich_proc_event(void *ctx, const struct sonde_proc_event *ev)
{
	struct enrich *en = ctx;
	switch (ev->kind) {
	case SONDE_PROC_TRACKED: sonde_proc_track(en->procs); break;
	case SONDE_PROC_EXEC: sonde_proc_exec(en->procs, ev->pid); break;
	case SONDE_PROC_EXIT: sonde_proc_exit(en->procs, ev->pid); break;
	case SONDE_PROC_LOST: sonde_proc_doubt(en->procs); break;
	case SONDE_PROC_SOCKET:;
		struct sonde_holder who = { .pid = ev->pid, .cgroup_id = ev->cgroup_id };
		memcpy(who.comm, ev->comm, sizeof(who.comm));
		sonde_holders_put(en->holders, &ev->local, &ev->remote, ev->netns, &who);
		/* Read now, while it lives: its first record may come after its exit. */
		sonde_proc_remember(en->procs, ev->pid);
		break;
	default: break;
	}
}

static bool enrich_record(void *ctx, struct sonde_record *r)
{
	struct enrich *en = ctx;
	const struct sonde_conn_info *c = r->conn;
	if (!c->attrs)
		return true;
	struct sonde_enrich_conn *ec = sonde_attr_get(c->attrs, SONDE_ATTR_CONTAINER);
	if (ec) {
		if (en->kube && (end_unnamed(ec->end[0]) || end_unnamed(ec->end[1])))
			name_unknown_ends(en, ec, c);
		return true;
	}
	bool packets = en->packets && sonde_packet_ends_wanted(c);
	if (!c->proc.pid && !packets)
		return true;
	ec = packets ? packet_conn(en, c) : traced_conn(en, r);
	sonde_attr_set(c->attrs, SONDE_ATTR_CONTAINER, ec, conn_free);
	name_unknown_ends(en, ec, c);
	if (ec->end[0])
		sonde_attr_set(c->attrs, SONDE_ATTR_CLIENT_PROCESS, ec->end[0], NULL);
	if (ec->end[1])
		sonde_attr_set(c->attrs, SONDE_ATTR_SERVER_PROCESS, ec->end[1], NULL);
	return true;
}

/* The CRI thread counts on its own; the final stats record gets its counts. */
static void enrich_finish(void *ctx, const struct sonde_stats *st)
{
	(void)st;
	struct enrich *en = ctx;
	if (en->cri)
		sonde_cri_stats(en->cri, en->stats);
	sonde_kube_stats(en->kube, en->stats);
}

static int enrich_close(void *ctx)
{
	struct enrich *en = ctx;
	sonde_proc_cache_free(en->procs);
	sonde_holders_free(en->holders);
	sonde_cgroup_ids_free(en->cgroups);
	sonde_container_cache_free(en->ctrs);
	sonde_cri_stop(en->cri);
	sonde_sock_owners_free(en->owners);
	sonde_packet_ends_free(en->packets);
	free(en);
	return 0;
}

const struct sonde_stage_ops sonde_enrich_stage = {
	.name = "enrich",
	.phase = SONDE_STAGE_ENRICH,
	.record = enrich_record,
	.finish = enrich_finish,
	.close = enrich_close,
};

void *sonde_enrich_new(const struct sonde_enrich_opts *o, struct sonde_stats *stats)
{
	struct enrich *en = calloc(1, sizeof(*en));
	if (!en)
		return NULL;
	const char *proc = o && o->proc ? o->proc : "/proc";
	const char *root = o && o->root ? o->root : "/";
	snprintf(en->proc, sizeof(en->proc), "%s", proc);
	en->stats = stats;
	en->kube = o ? o->kube : NULL;
	struct sonde_proc_opts po = { .proc = proc, .root = root };
	en->procs = sonde_proc_cache_new(&po, stats);
	en->owners = sonde_sock_owners_new(proc, 0);
	en->holders = sonde_holders_new(0);
	snprintf(en->cgroup_root, sizeof(en->cgroup_root), "%s",
		 o && o->cgroup_root ? o->cgroup_root : "");
	if (o && o->containers)
		en->ctrs = sonde_container_cache_new(root, 0, stats);
	struct sonde_packet_ends_opts pe = { .proc = proc,
					     .netns = o ? o->netns : NULL,
					     .cgroup_root = o ? o->cgroup_root : NULL };
	char pwhy[256];
	/* Without a netlink socket packet records keep their addresses only. */
	if (o && o->packets)
		en->packets = sonde_packet_ends_new(&pe, stats, pwhy, sizeof(pwhy));
	if (!en->procs || !en->owners || !en->holders || (o && o->containers && !en->ctrs)) {
		enrich_close(en);
		return NULL;
	}
	char why[256];
	/* A thread that cannot start leaves the state files to say what they can. */
	if (en->ctrs)
		en->cri = o->cri ? sonde_cri_ref(o->cri)
				 : sonde_cri_open(root, o->cri_socket, why, sizeof(why));
	if (en->cri)
		sonde_container_cache_set_cri(en->ctrs, en->cri);
	return en;
}

/* ---------------------------------------------------------- walks --- */

static void str_if(const struct sonde_field_ops *v, void *ctx, const char *name, const char *s)
{
	if (s && *s)
		sonde_field_cstr(v, ctx, name, s);
}

static void time_member(const struct sonde_field_ops *v, void *ctx, const char *name, uint64_t ns)
{
	struct sonde_buf b = { 0 };
	sonde_fmt_time(&b, ns);
	v->str(ctx, name, b.p, b.len);
	sonde_buf_free(&b);
}

static void proc_members(const struct sonde_proc_info *p, const struct sonde_field_ops *v,
			 void *ctx)
{
	str_if(v, ctx, "exe", p->exe);
	str_if(v, ctx, "cmdline", p->cmdline);
	if (p->uid != (uint32_t)-1)
		v->u64(ctx, "uid", p->uid);
	str_if(v, ctx, "user", p->user);
	if (p->start_ns)
		time_member(v, ctx, "start_time", p->start_ns);
	str_if(v, ctx, "container_id", p->ctr.id);
}

void sonde_enrich_process_fields(const struct sonde_conn_info *c, const struct sonde_field_ops *v,
				 void *ctx)
{
	const struct sonde_enrich_conn *ec = sonde_attr_get(c->attrs, SONDE_ATTR_CONTAINER);
	if (ec && ec->traced)
		proc_members(&ec->traced->proc, v, ctx);
}

static void pod_object(const struct sonde_enrich_end *e, const struct sonde_field_ops *v,
		       void *ctx);

static void container_object(const struct sonde_enrich_end *e, const struct sonde_field_ops *v,
			     void *ctx)
{
	const struct sonde_container_meta *m = e->ctr;
	v->begin(ctx, "container", SONDE_FG_OBJECT);
	sonde_field_cstr(v, ctx, "id", e->proc.ctr.id);
	if (m) {
		str_if(v, ctx, "name", m->name);
		str_if(v, ctx, "image", m->image);
	}
	const char *rt = sonde_runtime_name(m ? m->runtime : e->proc.ctr.runtime);
	str_if(v, ctx, "runtime", rt);
	v->end(ctx, SONDE_FG_OBJECT);
	pod_object(e, v, ctx);
}

static void pod_object(const struct sonde_enrich_end *e, const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_container_meta *m = e->ctr;
	const char *uid = m && m->pod_uid ? m->pod_uid : e->proc.ctr.pod_uid;
	if (!(m && (m->pod_name || m->pod_namespace)) && !*uid)
		return;
	v->begin(ctx, "pod", SONDE_FG_OBJECT);
	if (m) {
		str_if(v, ctx, "name", m->pod_name);
		str_if(v, ctx, "namespace", m->pod_namespace);
	}
	str_if(v, ctx, "uid", uid);
	if (m)
		str_if(v, ctx, "ip", m->pod_ip);
	const char *kind;
	char wname[256];
	if (m &&
	    sonde_workload_of(m->pod_name, m->labels, m->nlabels, &kind, wname, sizeof(wname))) {
		v->begin(ctx, "workload", SONDE_FG_OBJECT);
		sonde_field_cstr(v, ctx, "kind", kind);
		sonde_field_cstr(v, ctx, "name", wname);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	if (m && m->nlabels) {
		v->begin(ctx, "labels", SONDE_FG_OBJECT);
		for (size_t i = 0; i < m->nlabels; i++)
			sonde_field_cstr(v, ctx, m->labels[i].key, m->labels[i].value);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	v->end(ctx, SONDE_FG_OBJECT);
}

void sonde_enrich_end_fields(const struct sonde_conn_info *c, int e,
			     const struct sonde_field_ops *v, void *ctx)
{
	const struct sonde_enrich_end *end =
		sonde_attr_get(c->attrs, e ? SONDE_ATTR_SERVER_PROCESS : SONDE_ATTR_CLIENT_PROCESS);
	if (!end)
		return;
	const struct sonde_proc_info *p = &end->proc;
	if (p->pid) {
		v->begin(ctx, "process", SONDE_FG_OBJECT);
		v->u64(ctx, "pid", p->pid);
		str_if(v, ctx, "comm", p->comm);
		proc_members(p, v, ctx);
		str_if(v, ctx, "cgroup", p->cgroup);
		v->end(ctx, SONDE_FG_OBJECT);
	}
	/* no process: named by its cgroup, its pod's IP, or a Service's; a
	 * process in another namespace may be named by its IP too */
	if (p->ctr.id[0])
		container_object(end, v, ctx);
	else if (!p->pid || end->ctr)
		pod_object(end, v, ctx);
	if (end->service) {
		v->begin(ctx, "service", SONDE_FG_OBJECT);
		sonde_field_cstr(v, ctx, "name", end->service);
		str_if(v, ctx, "namespace", end->service_ns);
		v->end(ctx, SONDE_FG_OBJECT);
	}
}

const struct sonde_proc_info *sonde_enrich_end_proc(const struct sonde_conn_info *c, int e)
{
	const struct sonde_enrich_end *end =
		sonde_attr_get(c->attrs, e ? SONDE_ATTR_SERVER_PROCESS : SONDE_ATTR_CLIENT_PROCESS);
	return end && end->proc.pid ? &end->proc : NULL; /* pid 0: a pod or cgroup only */
}

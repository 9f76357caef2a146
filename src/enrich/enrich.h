/* SPDX-License-Identifier: MIT */
/*
 * The enrichment stage (SONDE_STAGE_ENRICH): who is talking. On a
 * connection's first record it finds the processes at its local ends and
 * their containers and pods, and attaches them to the connection
 * (core/attrs.h), where every later record of it finds them:
 *   SONDE_ATTR_CONTAINER  struct sonde_enrich_conn: both ends and the traced
 *                         process, with their containers; set on every
 *                         connection looked at, so each is looked at once
 *   SONDE_ATTR_CLIENT_PROCESS, _SERVER_PROCESS  struct sonde_enrich_end of
 *                         that end, when known (pointing into the above)
 * (SONDE_ATTR_POD stays unset: a pod is known only through a container, so
 * it lives in the container's metadata.)
 *
 * The traced process (conn->proc.pid of eBPF records) is placed at its end
 * through the socket table of its network namespace: the socket whose local
 * end is the client's, or the server's. When both sockets are there (both
 * ends on this host: loopback), the other end's process is the holder of
 * the other socket (enrich/socket.h). When the sockets are gone before the
 * first record (the connection closed at once), a socket listening on the
 * server's port on this host tells the server end: its holder. When nothing
 * tells, nothing per end is attached — only the traced process's own
 * details, in the record's "process".
 * Records of packet sources (no pid) have their local ends found by their
 * 4-tuple in the kernel's socket table (enrich/packet_ends.h) when asked
 * (opts.packets); cgroup_skb's the container of the socket's cgroup too.
 * An end still unnamed after all that — a remote peer — is named by the
 * Kubernetes API's tables when opts.kube is given, on the first record or
 * a later one once the tables have changed.
 * Sockets the source saw opened (sonde_enrich_proc_event, enrich/holders.h)
 * name the ends the socket tables cannot: gone, or in another namespace.
 * Records of files are left alone; UDP flows get the traced process only
 * (the socket tables read are TCP's).
 *
 * The walks below describe what was attached through the field visitor
 * (core/fields.h), for any sink. Label keys of pods are passed as member
 * names: NUL-terminated, valid only during the call.
 */
#ifndef SONDE_ENRICH_H
#define SONDE_ENRICH_H

#include <stdbool.h>

#include "core/fields.h"
#include "core/proc_events.h"
#include "core/record.h"
#include "core/stage.h"
#include "enrich/container.h"
#include "enrich/kube.h"
#include "enrich/process.h"

struct sonde_enrich_end {
	struct sonde_proc_info proc;
	struct sonde_container_meta *ctr; /* a reference; NULL: none or unknown */
	/* A Service's cluster IP (--kube-api): its name and namespace. */
	char *service, *service_ns;
};

struct sonde_enrich_conn {
	/* Both ends' processes, 0 client and 1 server, when known. */
	struct sonde_enrich_end *end[2];
	/* The traced process (conn->proc), whichever end it is; NULL if /proc
	 * did not know it. Owned here; end[] may point at it. */
	struct sonde_enrich_end *traced;
	/* The Kubernetes API's tables when an end was last looked for there:
	 * an end still unknown is looked for again once they change. */
	uint64_t kube_generation;
};

struct sonde_enrich_opts {
	const char *proc; /* "/proc" when NULL */
	const char *root; /* the node's root for runtime state and users: "/" */
	bool containers; /* look up container metadata (false: ids only) */
	/* The runtime's CRI socket for pods and labels: NULL looks for the
	 * usual ones under root, "" asks none. */
	const char *cri_socket;
	/* The run's CRI client, shared with the target scan (a reference is
	 * taken); NULL: the stage opens its own as cri_socket says. */
	struct sonde_cri *cri;
	/* Records of packet sources too: their local ends found by 4-tuple
	 * (enrich/packet_ends.h), in netns (--netns's file, NULL: ours) and,
	 * for cgroup_skb, under the cgroup v2 mount cgroup_root (NULL: found). */
	bool packets;
	const char *netns;
	const char *cgroup_root;
	/* The Kubernetes API client (--kube-api), owned by the caller and
	 * outliving the stage; NULL: none. Ends no process, container or
	 * node-local pod names are looked up there by address: a pod (this
	 * node's, or behind a Service's EndpointSlice), else a Service. */
	struct sonde_kube *kube;
};

extern const struct sonde_stage_ops sonde_enrich_stage;

/* A source's word on processes (core/proc_events.h), ctx the stage's: the
 * hook (struct sonde_proc_hook) a source that sees processes is given. */
void sonde_enrich_proc_event(void *ctx, const struct sonde_proc_event *ev);

/* The stage's context, for sonde_run_add_stage(&sonde_enrich_stage, ...).
 * NULL only when out of memory. */
void *sonde_enrich_new(const struct sonde_enrich_opts *o, struct sonde_stats *stats);

/* Members of the traced process's "process" object after pid, comm and
 * cgroup_id: exe, cmdline, uid, user, start_time, container_id — those known. */
void sonde_enrich_process_fields(const struct sonde_conn_info *c, const struct sonde_field_ops *v,
				 void *ctx);
/* Members of end e (0 client, 1 server) inside its conn.client/conn.server
 * object: "process", "container" and "pod" objects, those known. */
void sonde_enrich_end_fields(const struct sonde_conn_info *c, int e,
			     const struct sonde_field_ops *v, void *ctx);

/* The process at end e (0 client, 1 server), or NULL when not known. */
const struct sonde_proc_info *sonde_enrich_end_proc(const struct sonde_conn_info *c, int e);

#endif

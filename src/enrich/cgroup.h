/* SPDX-License-Identifier: MIT */
/*
 * Which container a cgroup path names: the runtime, the container id and,
 * under Kubernetes, the pod's uid. A path is what /proc/PID/cgroup shows
 * after the second ':' — cgroup v1 or v2, systemd or cgroupfs driver, and
 * possibly relative to a cgroup namespace (leading "/.." components, or "/"
 * for a process in the reader's own namespace root).
 *
 * The forms a node may show (the innermost container named wins, so a
 * container inside a container names the inner one):
 *   docker      /docker/<id>                 /system.slice/docker-<id>.scope
 *   containerd  .../cri-containerd-<id>.scope  nerdctl-<id>.scope
 *   CRI-O       .../crio-<id>.scope            (crio-conmon-<id>.scope: not a container)
 *   podman      .../libpod-<id>.scope  /libpod_parent/libpod-<id>  (libpod-conmon-: not one)
 *   kubelet     /kubepods/<qos>/pod<uid>/<id>  (cgroupfs: runtime not named)
 *               kubepods-<qos>-pod<uid_with_underscores>.slice (systemd)
 * A bare 64-hex-digit component is taken as a container id whose runtime
 * the path does not name. Anything else (systemd services and slices,
 * user sessions) names no container. Pure: no I/O.
 */
#ifndef SONDE_ENRICH_CGROUP_H
#define SONDE_ENRICH_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

enum sonde_runtime {
	SONDE_RUNTIME_NONE = 0, /* no container */
	SONDE_RUNTIME_UNKNOWN, /* a container id, runtime not named by the path */
	SONDE_RUNTIME_DOCKER,
	SONDE_RUNTIME_CONTAINERD,
	SONDE_RUNTIME_CRIO,
	SONDE_RUNTIME_PODMAN,
};

#define SONDE_CONTAINER_ID_MAX 64
#define SONDE_POD_UID_MAX 36

struct sonde_cgroup_ctr {
	enum sonde_runtime runtime;
	char id[SONDE_CONTAINER_ID_MAX + 1]; /* lower-case hex; "" without a container */
	char pod_uid[SONDE_POD_UID_MAX + 1]; /* with '-'; "" outside Kubernetes */
};

/* "docker", "containerd", "cri-o", "podman", "unknown"; NULL for NONE. */
const char *sonde_runtime_name(enum sonde_runtime rt);

/* One cgroup path (n bytes, need not be NUL-terminated). Returns true if it
 * names a container (out->id set); out is cleared first either way, and
 * pod_uid may be set without a container (a pod's own slice). */
bool sonde_cgroup_parse(const char *path, size_t n, struct sonde_cgroup_ctr *out);

/*
 * A whole /proc/PID/cgroup text ("ID:CONTROLLERS:PATH" lines). The first
 * line that names a container decides; path (may be NULL) receives that
 * line's path, else the v2 ("0::") line's, else the first line's, cut to
 * pathlen - 1 bytes. Returns true if a container was named.
 */
bool sonde_cgroup_parse_file(const char *text, size_t n, struct sonde_cgroup_ctr *out, char *path,
			     size_t pathlen);

#endif

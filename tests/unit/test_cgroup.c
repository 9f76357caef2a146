// SPDX-License-Identifier: MIT
/* Cgroup paths → container ids: every form a node shows, as real nodes
 * write them (ids and uids from real machines' /proc/PID/cgroup). */
#include "testutil.h"

#include "enrich/cgroup.h"

#define ID "3f1c2d4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
#define ID2 "9b0a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b"
#define UID "0e4c5f6a-1b2c-4d3e-8f9a-0b1c2d3e4f5a"
#define UID_ "0e4c5f6a_1b2c_4d3e_8f9a_0b1c2d3e4f5a"

static void expect(const char *path, enum sonde_runtime rt, const char *id, const char *uid)
{
	struct sonde_cgroup_ctr c;
	bool named = sonde_cgroup_parse(path, strlen(path), &c);
	if (named != (id != NULL) || c.runtime != rt || strcmp(c.id, id ? id : "") ||
	    strcmp(c.pod_uid, uid ? uid : ""))
		fail_msg("%s: got runtime %d id '%s' pod '%s'", path, c.runtime, c.id, c.pod_uid);
}

static void docker_forms(void **state)
{
	(void)state;
	expect("/docker/" ID, SONDE_RUNTIME_DOCKER, ID, NULL); /* cgroupfs driver, v1 */
	expect("/system.slice/docker-" ID ".scope", SONDE_RUNTIME_DOCKER, ID, NULL); /* systemd */
	/* docker in docker: the inner container is the process's */
	expect("/docker/" ID "/docker/" ID2, SONDE_RUNTIME_DOCKER, ID2, NULL);
	/* the daemon itself is no container */
	expect("/system.slice/docker.service", SONDE_RUNTIME_NONE, NULL, NULL);
}

static void containerd_forms(void **state)
{
	(void)state;
	/* CRI, systemd driver, cgroup v2 */
	expect("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/cri-containerd-" ID ".scope",
	       SONDE_RUNTIME_CONTAINERD, ID, UID);
	/* guaranteed QoS has no QoS slice */
	expect("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope",
	       SONDE_RUNTIME_CONTAINERD, ID, UID);
	/* CRI, cgroupfs driver: the runtime is not in the path */
	expect("/kubepods/burstable/pod" UID "/" ID, SONDE_RUNTIME_UNKNOWN, ID, UID);
	expect("/kubepods/pod" UID "/" ID, SONDE_RUNTIME_UNKNOWN, ID, UID);
	/* systemd driver on cgroup v1's systemd hierarchy */
	expect("/system.slice/containerd.service/kubepods-burstable-pod" UID_
	       ".slice:cri-containerd:" ID,
	       SONDE_RUNTIME_CONTAINERD, ID, UID);
	/* nerdctl */
	expect("/system.slice/nerdctl-" ID ".scope", SONDE_RUNTIME_CONTAINERD, ID, NULL);
	/* a pod's slice alone: the pod, no container (the sandbox's cgroup) */
	expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice",
	       SONDE_RUNTIME_NONE, NULL, UID);
	/* plain containerd (ctr): /<namespace>/<name>, a name not an id */
	expect("/test/web0", SONDE_RUNTIME_NONE, NULL, NULL);
	expect("/default/" ID, SONDE_RUNTIME_UNKNOWN, ID, NULL);
}

static void crio_forms(void **state)
{
	(void)state;
	expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/crio-" ID ".scope",
	       SONDE_RUNTIME_CRIO, ID, UID);
	/* conmon, the monitor beside the container, is not in it */
	expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/crio-conmon-" ID ".scope",
	       SONDE_RUNTIME_NONE, NULL, UID);
	/* cgroup v2 with the container's own sub-cgroup */
	expect("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/crio-" ID ".scope/container",
	       SONDE_RUNTIME_CRIO, ID, UID);
}

static void podman_forms(void **state)
{
	(void)state;
	expect("/machine.slice/libpod-" ID ".scope", SONDE_RUNTIME_PODMAN, ID, NULL);
	expect("/machine.slice/libpod-" ID ".scope/container", SONDE_RUNTIME_PODMAN, ID, NULL);
	expect("/machine.slice/libpod-conmon-" ID ".scope", SONDE_RUNTIME_NONE, NULL, NULL);
	/* rootless, under the user's systemd */
	expect("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
	       SONDE_RUNTIME_PODMAN, ID, NULL);
	/* cgroupfs manager (this machine): alone and in a pod */
	expect("/libpod_parent/libpod-" ID, SONDE_RUNTIME_PODMAN, ID, NULL);
	expect("/libpod_parent/" ID2 "/libpod-" ID, SONDE_RUNTIME_PODMAN, ID, NULL);
	expect("/libpod_parent/" ID2, SONDE_RUNTIME_NONE, NULL, NULL);
	expect("/libpod_parent/conmon", SONDE_RUNTIME_NONE, NULL, NULL);
}

static void no_container(void **state)
{
	(void)state;
	expect("/", SONDE_RUNTIME_NONE, NULL, NULL);
	expect("", SONDE_RUNTIME_NONE, NULL, NULL);
	expect("/init.scope", SONDE_RUNTIME_NONE, NULL, NULL);
	expect("/system.slice/nginx.service", SONDE_RUNTIME_NONE, NULL, NULL);
	expect("/user.slice/user-0.slice/session-3.scope", SONDE_RUNTIME_NONE, NULL, NULL);
	expect("/system.slice/docker-short.scope", SONDE_RUNTIME_NONE, NULL, NULL);
	expect("/docker/" ID "x", SONDE_RUNTIME_NONE, NULL, NULL);
}

/* Seen from inside a cgroup namespace: the reader's own root is "/", paths
 * outside it climb with "..". */
static void namespaced(void **state)
{
	(void)state;
	expect("/../../kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID ".scope",
	       SONDE_RUNTIME_CONTAINERD, ID, UID);
	expect("/../libpod-" ID ".scope", SONDE_RUNTIME_PODMAN, ID, NULL);
	expect("/..", SONDE_RUNTIME_NONE, NULL, NULL);
}

static void whole_file(void **state)
{
	(void)state;
	struct sonde_cgroup_ctr c;
	char path[256];
	/* cgroup v1 hybrid (this machine's kind): v1 hierarchies and 0:: */
	const char v1[] = "12:memory:/docker/" ID "\n"
			  "11:cpu,cpuacct:/docker/" ID "\n"
			  "1:name=systemd:/docker/" ID "\n"
			  "0::/docker/" ID "\n";
	assert_true(sonde_cgroup_parse_file(v1, strlen(v1), &c, path, sizeof(path)));
	assert_string_equal(c.id, ID);
	assert_string_equal(path, "/docker/" ID);
	/* v2 only */
	const char v2[] = "0::/system.slice/sshd.service\n";
	assert_false(sonde_cgroup_parse_file(v2, strlen(v2), &c, path, sizeof(path)));
	assert_string_equal(path, "/system.slice/sshd.service");
	/* no container: the v2 line's path is the one kept */
	const char hy[] = "5:pids:/user.slice\n0::/user.slice/user-0.slice/session-1.scope\n";
	assert_false(sonde_cgroup_parse_file(hy, strlen(hy), &c, path, sizeof(path)));
	assert_string_equal(path, "/user.slice/user-0.slice/session-1.scope");
	/* a pod uid from one line, no container: kept */
	const char pod[] = "0::/kubepods.slice/kubepods-pod" UID_ ".slice\n";
	assert_false(sonde_cgroup_parse_file(pod, strlen(pod), &c, NULL, 0));
	assert_string_equal(c.pod_uid, UID);
	/* a short buffer cuts the path, never overruns */
	char small[8];
	assert_true(sonde_cgroup_parse_file(v1, strlen(v1), &c, small, sizeof(small)));
	assert_string_equal(small, "/docker");
	/* no final newline, and garbage lines */
	const char odd[] = "junk\n:\n3:x:/machine.slice/libpod-" ID ".scope";
	assert_true(sonde_cgroup_parse_file(odd, strlen(odd), &c, path, sizeof(path)));
	assert_int_equal(c.runtime, SONDE_RUNTIME_PODMAN);
	assert_string_equal(sonde_runtime_name(c.runtime), "podman");
	assert_null(sonde_runtime_name(SONDE_RUNTIME_NONE));
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(docker_forms), tu_test(containerd_forms), tu_test(crio_forms),
		tu_test(podman_forms), tu_test(no_container),	 tu_test(namespaced),
		tu_test(whole_file),
	};
	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/* Container metadata from runtime state: a fixture tree per runtime, in
 * each one's layout and file format, under a temporary root. */
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include "enrich/container.h"

#define ID "4b825dc642cb6eb9a060e54bf8d69288fbee4904aaaaaaaaaaaaaaaaaaaaaaaa"
#define SB "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d"
#define UID "8f6e2a41-0c3b-4d5e-9f7a-1b2c3d4e5f60"

/* mkdir -p root/dir, then write root/dir/name. */
static void put(const char *root, const char *dir, const char *name, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", root, dir);
	for (char *p = path + strlen(root) + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0755);
			*p = '/';
		}
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *new_root(void)
{
	char *r = strdup("/tmp/sonde-test-ctr.XXXXXX");
	assert_non_null(mkdtemp(r));
	return r;
}

static void rm_root(char *r)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r);
	assert_int_equal(system(cmd), 0);
	free(r);
}

static struct sonde_cgroup_ctr ctr_of(enum sonde_runtime rt, const char *id)
{
	struct sonde_cgroup_ctr c = { .runtime = rt };
	snprintf(c.id, sizeof(c.id), "%s", id);
	return c;
}

static const char *label(const struct sonde_container_meta *m, const char *key)
{
	for (size_t i = 0; i < m->nlabels; i++)
		if (!strcmp(m->labels[i].key, key))
			return m->labels[i].value;
	return NULL;
}

/* An OCI runtime spec as podman writes it: arrays and objects before the
 * annotations, which the walk must step over. */
static const char podman_spec[] =
	"{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},"
	"\"args\":[\"httpd\",\"-f\",\"-p\",\"127.0.0.1:18080\"],\"env\":[\"PATH=/bin\","
	"\"container=podman\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\","
	"\"hard\":20000,\"soft\":20000}],\"terminal\":false},\"root\":{\"path\":\"/x\"},"
	"\"hostname\":\"web0\",\"annotations\":{\"io.container.manager\":\"libpod\","
	"\"io.kubernetes.cri-o.Created\":\"2026-12-03T14:56:08.319591705Z\","
	"\"io.kubernetes.cri-o.TTY\":\"false\",\"io.podman.annotations.init\":\"FALSE\","
	"\"io.kubernetes.pod.name\":\"web-0\",\"io.kubernetes.pod.namespace\":\"shop\","
	"\"io.kubernetes.pod.uid\":\"" UID "\",\"org.opencontainers.image.stopSignal\":\"15\"},"
	"\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}";

static void podman(void **state)
{
	(void)state;
	char *root = new_root();
	put(root, "var/lib/containers/storage/overlay-containers/" ID "/userdata", "config.json",
	    podman_spec);
	put(root, "var/lib/containers/storage/overlay-containers", "containers.json",
	    "[{\"id\":\"" SB "\",\"names\":[\"other\"],\"image\":\"x\"},"
	    "{\"id\":\"" ID "\",\"names\":[\"web0\"],\"image\":\"5c6b\",\"layer\":\"aa\","
	    "\"metadata\":\"{\\\"image-name\\\":\\\"localhost/bb:1\\\",\\\"image-id\\\":\\\"5c6b\\\","
	    "\\\"name\\\":\\\"web0\\\",\\\"created-at\\\":1764770000}\",\"created\":\"2026-12-03\"}]");
	struct sonde_cgroup_ctr c = ctr_of(SONDE_RUNTIME_PODMAN, ID);
	struct sonde_container_meta *m = sonde_container_read(root, &c);
	assert_non_null(m);
	assert_int_equal(m->runtime, SONDE_RUNTIME_PODMAN);
	assert_string_equal(m->id, ID);
	assert_string_equal(m->name, "web0");
	assert_string_equal(m->image, "localhost/bb:1");
	assert_string_equal(m->pod_name, "web-0");
	assert_string_equal(m->pod_namespace, "shop");
	assert_string_equal(m->pod_uid, UID);
	assert_int_equal(m->nlabels, 0);
	sonde_container_meta_unref(m);
	/* The cgroup said nothing of the runtime: found all the same. */
	c.runtime = SONDE_RUNTIME_UNKNOWN;
	m = sonde_container_read(root, &c);
	assert_non_null(m);
	assert_int_equal(m->runtime, SONDE_RUNTIME_PODMAN);
	sonde_container_meta_unref(m);
	rm_root(root);
}

static void crio(void **state)
{
	(void)state;
	char *root = new_root();
	const char *dir = "run/containers/storage/overlay-containers/" ID "/userdata";
	put(root, dir, "config.json",
	    "{\"ociVersion\":\"1.0.2\",\"annotations\":{"
	    "\"io.kubernetes.cri-o.ContainerType\":\"container\","
	    "\"io.kubernetes.cri-o.SandboxID\":\"" SB "\","
	    "\"io.kubernetes.cri-o.ImageName\":\"docker.io/library/nginx:1.25\","
	    "\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.container.name\\\":\\\"app\\\"}\","
	    "\"io.kubernetes.container.name\":\"app\","
	    "\"io.kubernetes.pod.name\":\"checkout-7d9f-x2x\","
	    "\"io.kubernetes.pod.namespace\":\"shop\",\"io.kubernetes.pod.uid\":\"" UID "\"}}");
	/* The sandbox holds the pod's labels, kubelet's keys among them. */
	put(root, "run/containers/storage/overlay-containers/" SB "/userdata", "config.json",
	    "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
	    "\"io.kubernetes.cri-o.Labels\":\"{\\\"app\\\":\\\"checkout\\\","
	    "\\\"io.kubernetes.pod.name\\\":\\\"checkout-7d9f-x2x\\\","
	    "\\\"pod-template-hash\\\":\\\"7d9f\\\",\\\"tier\\\":\\\"caf\\\\u00e9\\\"}\"}}");
	struct sonde_cgroup_ctr c = ctr_of(SONDE_RUNTIME_CRIO, ID);
	struct sonde_container_meta *m = sonde_container_read(root, &c);
	assert_non_null(m);
	assert_int_equal(m->runtime, SONDE_RUNTIME_CRIO);
	assert_string_equal(m->name, "app");
	assert_string_equal(m->image, "docker.io/library/nginx:1.25");
	assert_string_equal(m->pod_name, "checkout-7d9f-x2x");
	assert_string_equal(m->pod_namespace, "shop");
	assert_string_equal(m->pod_uid, UID);
	assert_int_equal(m->nlabels, 3);
	assert_string_equal(label(m, "app"), "checkout");
	assert_string_equal(label(m, "pod-template-hash"), "7d9f");
	assert_string_equal(label(m, "tier"), "caf\xc3\xa9");
	assert_null(label(m, "io.kubernetes.pod.name"));
	sonde_container_meta_unref(m);
	rm_root(root);
}

static void containerd(void **state)
{
	(void)state;
	char *root = new_root();
	put(root, "run/containerd/io.containerd.runtime.v2.task/moby", "x", "");
	put(root, "run/containerd/io.containerd.runtime.v2.task/k8s.io/" ID, "config.json",
	    "{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"/server\"]},\"annotations\":{"
	    "\"io.kubernetes.cri.container-name\":\"payments\","
	    "\"io.kubernetes.cri.container-type\":\"container\","
	    "\"io.kubernetes.cri.image-name\":\"registry.example/payments:2.3\","
	    "\"io.kubernetes.cri.sandbox-id\":\"" SB "\","
	    "\"io.kubernetes.cri.sandbox-name\":\"payments-5c2a-abcde\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"shop\","
	    "\"io.kubernetes.cri.sandbox-uid\":\"" UID "\"}}");
	struct sonde_cgroup_ctr c = ctr_of(SONDE_RUNTIME_CONTAINERD, ID);
	struct sonde_container_meta *m = sonde_container_read(root, &c);
	assert_non_null(m);
	assert_int_equal(m->runtime, SONDE_RUNTIME_CONTAINERD);
	assert_string_equal(m->name, "payments");
	assert_string_equal(m->image, "registry.example/payments:2.3");
	assert_string_equal(m->pod_name, "payments-5c2a-abcde");
	assert_string_equal(m->pod_namespace, "shop");
	assert_string_equal(m->pod_uid, UID);
	sonde_container_meta_unref(m);
	rm_root(root);
}

static void docker(void **state)
{
	(void)state;
	char *root = new_root();
	put(root, "var/lib/docker/containers/" ID, "config.v2.json",
	    "{\"StreamConfig\":{},\"State\":{\"Running\":true,\"Pid\":4242},\"ID\":\"" ID "\","
	    "\"Created\":\"2026-12-03T10:00:00Z\",\"Path\":\"nginx\",\"Args\":[\"-g\",\"daemon off;\"],"
	    "\"Config\":{\"Hostname\":\"4b825dc642cb\",\"Env\":[\"A=1\"],\"Cmd\":null,"
	    "\"Image\":\"nginx:1.25\",\"Labels\":{\"maintainer\":\"NGINX\"}},"
	    "\"Image\":\"sha256:abc\",\"Name\":\"/web\",\"Driver\":\"overlay2\"}");
	struct sonde_cgroup_ctr c = ctr_of(SONDE_RUNTIME_DOCKER, ID);
	struct sonde_container_meta *m = sonde_container_read(root, &c);
	assert_non_null(m);
	assert_int_equal(m->runtime, SONDE_RUNTIME_DOCKER);
	assert_string_equal(m->name, "web");
	assert_string_equal(m->image, "nginx:1.25");
	assert_null(m->pod_name);
	sonde_container_meta_unref(m);
	rm_root(root);
}

static void missing_and_cached(void **state)
{
	(void)state;
	char *root = new_root();
	struct sonde_stats st = { 0 };
	struct sonde_container_cache *cc = sonde_container_cache_new(root, 2, &st);
	struct sonde_cgroup_ctr c = ctr_of(SONDE_RUNTIME_UNKNOWN, ID);
	uint64_t t = 1000000000ull;
	assert_null(sonde_container_lookup(cc, &c, t));
	assert_int_equal(st.enrich_container_failures, 1);
	/* Its state appears (the container was starting): not asked again at
	 * once, then found after the retry delay. */
	put(root, "var/lib/docker/containers/" ID, "config.v2.json",
	    "{\"Name\":\"/late\",\"Config\":{\"Image\":\"busybox\"}}");
	assert_null(sonde_container_lookup(cc, &c, t + 1000000ull));
	struct sonde_container_meta *m = sonde_container_lookup(cc, &c, t + 6000000000ull);
	assert_non_null(m);
	assert_string_equal(m->name, "late");
	assert_int_equal(st.enrich_container_lookups, 3);
	assert_int_equal(st.enrich_container_failures, 2);
	/* Held by the caller and the cache: a second lookup is the same. */
	struct sonde_container_meta *m2 = sonde_container_lookup(cc, &c, t + 7000000000ull);
	assert_ptr_equal(m, m2);
	sonde_container_meta_unref(m2);
	/* Bounded: two entries; the one replaced stays valid for its holder. */
	struct sonde_cgroup_ctr a = ctr_of(SONDE_RUNTIME_UNKNOWN, SB);
	struct sonde_cgroup_ctr b = ctr_of(SONDE_RUNTIME_UNKNOWN, "aaaaaaaaaaaa");
	assert_null(sonde_container_lookup(cc, &a, t));
	assert_null(sonde_container_lookup(cc, &b, t));
	assert_string_equal(m->name, "late");
	sonde_container_meta_unref(m);
	/* Damaged state is unknown, not a crash. */
	put(root, "var/lib/docker/containers/" SB, "config.v2.json", "{\"Name\":\"/x\",\"Config\":{");
	m = sonde_container_read(root, &a);
	assert_non_null(m);
	assert_null(m->image);
	sonde_container_meta_unref(m);
	c.id[0] = 0;
	assert_null(sonde_container_lookup(cc, &c, t));
	sonde_container_cache_free(cc);
	rm_root(root);
}

int main(void)
{
	tu_filters();
	const struct CMUnitTest tests[] = {
		tu_test(podman), tu_test(crio), tu_test(containerd), tu_test(docker),
		tu_test(missing_and_cached),
	};
	return cmocka_run_group_tests_name("container", tests, NULL, NULL);
}

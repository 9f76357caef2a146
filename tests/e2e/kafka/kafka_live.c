/* SPDX-License-Identifier: MIT */
/*
 * The Kafka side of tests/e2e/test_kafka_live.py: librdkafka's mock cluster
 * (a broker speaking the real protocol on 127.0.0.1) and librdkafka clients
 * driven by commands on stdin, one per line:
 *
 *   produce TOPIC N ACKS [BATCH]
 *                          a producer (client.id sonde-acksACKS) sends N
 *                          messages with request.required.acks=ACKS (at
 *                          most BATCH per request when given), flushes
 *   consume TOPIC N        a consumer (client.id sonde-consumer) reads N
 *                          messages of partition 0 from the beginning
 *   group TOPIC N          a consumer of group sonde-group (client.id
 *                          sonde-member) subscribes, reads N messages,
 *                          commits them and leaves the group
 *   quit
 *
 * It prints "bootstrap HOST:PORT" once the cluster is up, then one line per
 * command ("produced N", "consumed N", or "error ..."). Build:
 *   cc kafka_live.c $(pkg-config --cflags --libs rdkafka)
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap, const char *id,
			  const char *acks, const char *batch)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bool member = !strcmp(id, "sonde-member");
	if (member && (rd_kafka_conf_set(conf, "heartbeat.interval.ms", "200", err, sizeof(err)) ||
		       rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
		       rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)))) {
		printf("error conf: %s\n", err);
		return NULL;
	}
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "client.id", id, err, sizeof(err)) ||
	    (acks && rd_kafka_conf_set(conf, "acks", acks, err, sizeof(err))) ||
	    (batch && rd_kafka_conf_set(conf, "batch.num.messages", batch, err, sizeof(err))) ||
	    (type == RD_KAFKA_CONSUMER &&
	     rd_kafka_conf_set(conf, "group.id", member ? "sonde-group" : "sonde-live", err,
			       sizeof(err)))) {
		printf("error conf: %s\n", err);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (!rk)
		printf("error new: %s\n", err);
	return rk;
}

static void produce(const char *bootstrap, const char *topic, int n, const char *acks,
		    const char *batch)
{
	char id[32];
	snprintf(id, sizeof(id), "sonde-acks%s", acks);
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstrap, id, acks, batch);
	if (!rk)
		return;
	int sent = 0;
	for (int i = 0; i < n; i++) {
		char v[64];
		int len = snprintf(v, sizeof(v), "message %d of %d", i, n);
		rd_kafka_resp_err_t e;
		while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
					      RD_KAFKA_V_VALUE(v, (size_t)len),
					      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
		       RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 10); /* the local queue is full: let it drain */
		if (!e)
			sent++;
	}
	rd_kafka_resp_err_t e = rd_kafka_flush(rk, 10000);
	printf(e ? "error flush %d\n" : "produced %d\n", e ? (int)e : sent);
	rd_kafka_destroy(rk);
}

static void consume(const char *bootstrap, const char *topic, int n)
{
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, bootstrap, "sonde-consumer", NULL, NULL);
	if (!rk)
		return;
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	int got = 0;
	for (int idle = 0; got < n && idle < 200;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m) {
			idle++;
			continue;
		}
		if (!m->err)
			got++;
		idle = 0;
		rd_kafka_message_destroy(m);
	}
	printf("consumed %d\n", got);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

static void group(const char *bootstrap, const char *topic, int n)
{
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, bootstrap, "sonde-member", NULL, NULL);
	if (!rk)
		return;
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	int got = 0;
	for (int idle = 0; !e && got < n && idle < 150;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m) {
			idle++;
			continue;
		}
		if (!m->err)
			got++;
		idle = 0;
		rd_kafka_message_destroy(m);
	}
	if (!e)
		e = rd_kafka_commit(rk, NULL, 0); /* OffsetCommit of what was read */
	printf(e ? "error group %d\n" : "grouped %d\n", e ? (int)e : got);
	rd_kafka_consumer_close(rk); /* LeaveGroup */
	rd_kafka_destroy(rk);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof(err))) {
		printf("error mock: %s\n", err);
		return 1;
	}
	/* the handle that owns the cluster: the cluster lives as long as it */
	rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!owner) {
		printf("error owner: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(owner);
	const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
	printf("bootstrap %s\n", bootstrap);
	char line[256], topic[128], acks[8], batch[16];
	int n, k;
	while (fgets(line, sizeof(line), stdin)) {
		if ((k = sscanf(line, "produce %127s %d %7s %15s", topic, &n, acks, batch)) >= 3) {
			rd_kafka_mock_topic_create(mc, topic, 1, 1);
			produce(bootstrap, topic, n, acks, k == 4 ? batch : NULL);
		} else if (sscanf(line, "group %127s %d", topic, &n) == 2) {
			group(bootstrap, topic, n);
		} else if (sscanf(line, "consume %127s %d", topic, &n) == 2) {
			consume(bootstrap, topic, n);
		} else if (!strncmp(line, "quit", 4)) {
			break;
		}
	}
	rd_kafka_destroy(owner);
	return 0;
}

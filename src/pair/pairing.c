/* SPDX-License-Identifier: MIT */
#include "pair/pairing.h"

void sonde_pairing_init(struct sonde_pairing *p, const struct sonde_conn_info *conn,
			const struct sonde_record_out *out, struct sonde_stats *stats,
			size_t max_waiting, struct sonde_pending_budget *budget)
{
	p->budget = budget;
	p->shape = SONDE_PAIR_IN_ORDER;
	p->orphans = 0;
	p->head = p->tail = NULL;
	p->waiting = 0;
	p->max_waiting = max_waiting ? max_waiting : 1;
	p->conn = conn;
	p->out = out;
	p->stats = stats;
}

void sonde_pairing_set_shape(struct sonde_pairing *p, enum sonde_pair_shape shape)
{
	p->shape = shape;
}

struct sonde_msg *sonde_pairing_oldest(const struct sonde_pairing *p)
{
	return p->head;
}

static void emit(struct sonde_pairing *p, struct sonde_msg *req, struct sonde_msg *resp)
{
	struct sonde_record r = { .conn = p->conn, .req = req, .resp = resp };
	if (p->shape == SONDE_PAIR_EVENTS) {
		/* a one-sided event is complete alone: neither flag applies */
	} else if (!resp) {
		r.flags |= SONDE_RF_UNANSWERED;
		p->stats->records_unanswered++;
	}
	if (p->shape != SONDE_PAIR_EVENTS && !req) {
		r.flags |= SONDE_RF_UNSOLICITED;
		p->stats->records_unsolicited++;
	}
	p->stats->records++;
	p->out->emit(p->out->ctx, &r);
	sonde_msg_free(req);
	sonde_msg_free(resp);
}

static struct sonde_msg *pop_head(struct sonde_pairing *p)
{
	struct sonde_msg *m = p->head;
	p->head = m->next;
	if (!p->head)
		p->tail = NULL;
	m->next = NULL;
	p->waiting--;
	p->budget->used -= m->mem;
	return m;
}

void sonde_pairing_request(struct sonde_pairing *p, struct sonde_msg *m)
{
	if (p->shape == SONDE_PAIR_EVENTS) {
		emit(p, m, NULL);
		return;
	}
	while (p->head &&
	       (p->waiting >= p->max_waiting || p->budget->used + m->mem > p->budget->limit)) {
		p->stats->requests_flushed_for_memory++;
		struct sonde_msg *old = pop_head(p);
		if (p->shape == SONDE_PAIR_IN_ORDER)
			p->orphans++;
		emit(p, old, NULL);
	}
	p->budget->used += m->mem;
	m->next = NULL;
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
	p->waiting++;
}

void sonde_pairing_response(struct sonde_pairing *p, struct sonde_msg *m)
{
	if (p->shape == SONDE_PAIR_EVENTS) {
		emit(p, NULL, m);
		return;
	}
	if (p->shape == SONDE_PAIR_IN_ORDER && p->orphans) {
		/* Answers a request already written as unanswered. */
		p->orphans--;
		emit(p, NULL, m);
		return;
	}
	struct sonde_msg **link = &p->head, *prev = NULL;
	for (struct sonde_msg *q = p->head; q; prev = q, q = q->next) {
		/* in order: the oldest; by key: the oldest of the same key */
		if (p->shape == SONDE_PAIR_IN_ORDER || q->pair_key == m->pair_key) {
			*link = q->next;
			if (p->tail == q)
				p->tail = prev;
			q->next = NULL;
			p->waiting--;
			p->budget->used -= q->mem;
			emit(p, q, m);
			return;
		}
		link = &q->next;
	}
	emit(p, NULL, m);
}

void sonde_pairing_event(struct sonde_pairing *p, struct sonde_msg *m)
{
	struct sonde_record r = { .conn = p->conn };
	if (m->kind == SONDE_MSG_REQUEST)
		r.req = m;
	else
		r.resp = m;
	p->stats->records++;
	p->out->emit(p->out->ctx, &r);
	sonde_msg_free(m);
}

void sonde_pairing_flush(struct sonde_pairing *p)
{
	while (p->head)
		emit(p, pop_head(p), NULL);
}

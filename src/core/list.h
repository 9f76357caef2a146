/* SPDX-License-Identifier: MIT */
/*
 * An intrusive doubly linked list, for LRU orders and the like.
 *
 * A struct that lives on a list embeds a struct sonde_list_node; the list
 * holds its first and last node. Both are NULL-terminated, so a zeroed list
 * (calloc, `= { 0 }`) is empty and needs no init. A node is on at most one
 * list at a time; removing it clears its links. Nothing here allocates: the
 * caller owns the nodes and frees them after removing them. No function
 * checks that a node is on the list it is given.
 */
#ifndef SONDE_LIST_H
#define SONDE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct sonde_list_node {
	struct sonde_list_node *prev, *next;
};

struct sonde_list {
	struct sonde_list_node *first, *last;
};

/* The struct of `type` whose member `member` is node n; n must not be NULL. */
#define sonde_list_entry(n, type, member) ((type *)(void *)((char *)(n)-offsetof(type, member)))
/* The same, NULL for a NULL node (the end of a walk, an empty list). */
#define sonde_list_entry_or_null(n, type, member) \
	((n) ? sonde_list_entry(n, type, member) : (type *)NULL)

static inline bool sonde_list_empty(const struct sonde_list *l)
{
	return !l->first;
}

static inline void sonde_list_push_front(struct sonde_list *l, struct sonde_list_node *n)
{
	n->prev = NULL;
	n->next = l->first;
	if (l->first)
		l->first->prev = n;
	else
		l->last = n;
	l->first = n;
}

static inline void sonde_list_push_back(struct sonde_list *l, struct sonde_list_node *n)
{
	n->next = NULL;
	n->prev = l->last;
	if (l->last)
		l->last->next = n;
	else
		l->first = n;
	l->last = n;
}

/* Take n off l (n must be on l). */
static inline void sonde_list_remove(struct sonde_list *l, struct sonde_list_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->last = n->prev;
	n->prev = n->next = NULL;
}

/* Move n (on l) to the front: the usual "just used" step of an LRU. */
static inline void sonde_list_move_front(struct sonde_list *l, struct sonde_list_node *n)
{
	if (l->first == n)
		return;
	sonde_list_remove(l, n);
	sonde_list_push_front(l, n);
}

static inline void sonde_list_move_back(struct sonde_list *l, struct sonde_list_node *n)
{
	if (l->last == n)
		return;
	sonde_list_remove(l, n);
	sonde_list_push_back(l, n);
}

#endif

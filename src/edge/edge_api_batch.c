/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * edge_api_batch.c - the API's submissions commit together (group commit).
 *
 * A submission's writes (the message sealed and queued, its override
 * record, its idempotency key, the trail entry saying who sent it) used to
 * be a transaction of their own, and the trail entry a second one: two
 * fsyncs per request, one request at a time under api_lock, so that under
 * a peak every request waited for the fsyncs of all those before it.
 *
 * Now a request hands its writes (a job) to a queue and waits.  The first
 * waiting request that finds no writer becomes it: under api_lock it opens
 * one transaction, runs every queued job (up to EDGE_API_BATCH_MAX) each
 * between a mark and its release, so that a job that fails (a recipient
 * not in the directory, an idempotency key taken) is undone alone, then
 * commits once and wakes them all with their result.  Requests arriving
 * during that commit queue for the next batch: nothing waits on a timer,
 * and a lone request is its own batch at once.
 *
 * What a 202 promises does not change: every job answered EGIDE_OK is in a
 * committed transaction.  A commit that fails fails every job of the batch
 * (each answers 503, retry: nothing of it was kept); a transaction the
 * store ended by itself (a full disk) fails the job that met it and every
 * one after it, without running them.
 */
#include "edge.h"

#include "egide/base/egide_log.h"
#include "edge_trail.h"

/* Run the jobs of one batch, in order, in one transaction on api_store
 * (api_lock held).  Sets every job's rc. */
static void s_batch(edge_t *e, edge_api_job_t *jobs)
{
    edge_store_t *st = e->api_store;
    egide_rc rc = edge_store_begin(st);
    edge_trail_t *trail = NULL; /* opened by the first job that notes an entry */
    size_t kept = 0, n = 0;
    for (edge_api_job_t *j = jobs; j; j = j->next, n++) {
        if (rc) {
            j->rc = rc; /* the transaction is gone: not run */
            continue;
        }
        /* The transaction lost (the store ended it after an error): this
         * job and the next ones fail as a store error (503, retry). */
        if (edge_store_mark(st) != EGIDE_OK) {
            rc = j->rc = EGIDE_ERR_DB;
            continue;
        }
        j->rc = j->fn(e, &trail, j->arg);
        if (edge_store_unmark(st, j->rc != EGIDE_OK) != EGIDE_OK) {
            rc = EGIDE_ERR_DB;
            if (!j->rc)
                j->rc = rc;
            continue;
        }
        if (j->rc == EGIDE_OK) {
            kept++;
        } else {
            /* A job undone: the next entry opens the trail again, so
             * nothing it holds outlives the undo. */
            edge_trail_destroy(&trail);
        }
    }
    edge_trail_destroy(&trail);
    if (!rc && kept)
        rc = edge_store_commit(st);
    if (rc || !kept)
        edge_store_rollback(st);
    if (rc) {
        /* Nothing of the batch is kept: every job that had succeeded fails
         * with the store's error (transient: the client retries). */
        for (edge_api_job_t *j = jobs; j; j = j->next)
            if (j->rc == EGIDE_OK)
                j->rc = rc;
        kept = 0;
        egide_log(EGIDE_LOG_ERROR, "api: a batch of %zu submission(s) not committed: %s", n,
                  egide_strerror(rc));
    }
    atomic_fetch_add(&e->m.api_batches, 1);
    atomic_fetch_add(&e->m.api_batched, n);
    for (size_t i = 0; i < kept; i++)
        edge_outbox_queued(e);
}

egide_rc edge_api_batch_run(edge_t *e, edge_api_job_t *job)
{
    if (!e || !job || !job->fn)
        return EGIDE_ERR_INVALID;
    job->next = NULL;
    job->done = false;
    job->rc = EGIDE_OK;
    pthread_mutex_lock(&e->batch_lock);
    if (e->batch_tail)
        e->batch_tail->next = job;
    else
        e->batch_head = job;
    e->batch_tail = job;
    while (!job->done) {
        if (e->batch_writer) {
            pthread_cond_wait(&e->batch_cond, &e->batch_lock);
            continue;
        }
        /* This request writes the batch: the queue's first jobs. */
        e->batch_writer = true;
        edge_api_job_t *jobs = e->batch_head, *last = jobs;
        for (int i = 1; i < EDGE_API_BATCH_MAX && last->next; i++)
            last = last->next;
        e->batch_head = last->next;
        if (!e->batch_head)
            e->batch_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&e->batch_lock);
        pthread_mutex_lock(&e->api_lock);
        s_batch(e, jobs);
        pthread_mutex_unlock(&e->api_lock);
        pthread_mutex_lock(&e->batch_lock);
        for (edge_api_job_t *j = jobs, *next; j; j = next) {
            next = j->next; /* j belongs to its waiter once done */
            j->done = true;
        }
        e->batch_writer = false;
        pthread_cond_broadcast(&e->batch_cond);
    }
    pthread_mutex_unlock(&e->batch_lock);
    return job->rc;
}

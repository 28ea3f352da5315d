/* pgmsg--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgmsg UPDATE TO '1.1'" to load this file. \quit

/*
 * Everything pgmsg--1.1.sql has that pgmsg--1.0.sql had not, in the same
 * order.  t/005_upgrade.pl checks that an extension updated from 1.0 has
 * exactly the objects, definitions and privileges of a fresh 1.1.
 */

-- Monitoring: receive counts of messages in flight (metrics.c)
/*
 * Receive counts of messages in flight (metrics.c): per queue, the held
 * leases, the largest receive count among them and a cumulative histogram,
 * read from shared memory without scanning queue tables.
 */
CREATE FUNCTION pgmsg.queue_receive_counts(
    OUT queue             text,
    OUT messages_held     bigint,
    OUT receive_count_max integer,
    OUT receive_count_sum bigint,
    OUT receive_count_le  integer[],
    OUT messages_le       bigint[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgmsg_queue_receive_counts'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

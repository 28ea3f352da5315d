/* pgmsg--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgmsg UPDATE TO '1.1'" to load this file. \quit

/*
 * Everything pgmsg--1.1.sql has that pgmsg--1.0.sql had not, in the same
 * order.  t/005_upgrade.pl checks that an extension updated from 1.0 has
 * exactly the objects, definitions and privileges of a fresh 1.1.
 */

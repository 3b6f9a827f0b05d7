-- PostgreSQL only (a covering index); nothing to do on SQLite.
SELECT 1;

"""`golive serve`'s process: the one web server with its health and readiness probes, start-up and stop
signals, and the scheduler of the leader replica."""

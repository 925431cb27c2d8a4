"""The hall's queue server (Flask on Granian, SQLite): see docs/architecture.md."""

# Granian's blocking threads per worker, where requests run. 16 rather than 8: under a burst of kiosks every
# waiting request can join one group commit (7-8 tickets a COMMIT against 4-5), so fewer fsyncs, page writes
# and hand-offs per ticket: 5-10 % less server CPU per ticket and more tickets a second in every pair of runs
# in turns (docs/performance.md, "Fifth pass"). Granian starts them on demand: an idle hall holds no more.
SERVE_THREADS = 16

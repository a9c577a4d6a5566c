"""``python -m bench`` (``make bench``): the product under load on 127.0.0.1, measured without coordinated omission.

Layout of the package:
  stack.py     the product as production runs it: own Redis, own database, servers as subprocesses
  seed.py      a large, consistent dataset (bulk rows, then the Redis mirror rebuilt from them)
  httpload.py  fixed-rate (open-loop) and closed-loop HTTP load, in a process of its own
  wsload.py    tracker sockets: hold thousands, measure push latency and reach
  worker.py    Django-side jobs run inside the bench environment (seed, event throughput)
  stats.py     percentiles;  machine.py  what the numbers were measured on
  runner.py    the scenario: what is measured, in which order; report.py  JSON and markdown
"""

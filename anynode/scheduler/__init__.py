"""The schedulers: the user's periodic commands and the node's own housekeeping.

* :mod:`~anynode.scheduler.commands`: ``run scheduler``, ``schedule``, ``get scheduler``,
  ``task ...``, ``exit scheduler``, ``get integrity`` (importing it registers them);
* :mod:`~anynode.scheduler.tasks`: the task table, each task's schedule, mode and record;
* :mod:`~anynode.scheduler.service`: the service that runs due tasks on a bounded pool;
* :mod:`~anynode.scheduler.pool`: that pool;
* :mod:`~anynode.scheduler.housekeeping`, :mod:`~anynode.scheduler.integrity`,
  :mod:`~anynode.scheduler.procstats`: system scheduler 0's jobs.

See docs/scheduler.md for the behaviour a user sees.
"""

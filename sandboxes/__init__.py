"""Loopback stand-ins for the systems syncer talks to: a Repzo API (:mod:`sandboxes.repzo`) and
an ERP (:mod:`sandboxes.erp`), built on shared parts (:mod:`sandboxes.kit`), and the demo that
syncs them both ways (:mod:`sandboxes.demo`).

They exist for the demo, the tests and the benchmarks, and for users trying syncer out before
pointing it at real systems (``syncer demo``, ``syncer sandbox repzo|erp``, commands plugged
into the core CLI through the ``syncer.commands`` entry points). The engine never imports this
package, and neither do the connectors: a sandbox may use a connector's knowledge (the Repzo
registry), never the other way round.
"""

"""The sandboxes' commands, plugged into ``syncer`` through the ``syncer.commands`` entry
points: ``syncer sandbox repzo|erp`` (:mod:`sandboxes.cli.sandbox`) and ``syncer demo``
(:mod:`sandboxes.cli.demo`). Each module is imported only when its command runs or the help
lists it."""

"""Building blocks the sandbox servers share (the Repzo sandbox and the ERP stub): a clock tests
can move or freeze, JSON replies, the HTTP server and its background thread, fault injection
(plans, scripts, and carrying a fault out on the socket), and the SQLite connection behind each
store. Kept apart so that serving one sandbox never imports the other's connector."""

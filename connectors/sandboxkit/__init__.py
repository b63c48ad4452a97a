"""Building blocks the sandbox servers share (the Repzo sandbox and the ERP stub): a clock tests
can move or freeze, and HTTP replies. Kept apart so that serving one sandbox never imports the
other's connector."""

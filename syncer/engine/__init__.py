"""The sync engine: flow runs, cursors, the id map, change and echo detection, conflicts, dead
letters and Repzo logs."""

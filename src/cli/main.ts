#!/usr/bin/env node
// Placeholder; subcommands are added by the firmware, update and DX work.
process.stderr.write('nerves-hub-link: no command yet\n');
process.exitCode = 2;

#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

// A closed pipe (`vecforge search ... | head`) ends the command quietly.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
process.exitCode = await main(process.argv);

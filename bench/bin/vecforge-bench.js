#!/usr/bin/env node
// The bench package's own command: the same runner and flags as `npm run bench`.
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));

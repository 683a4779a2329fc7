#!/usr/bin/env node
// The `coord` launcher: everything lives in dist/cli/main.js, loaded lazily by command.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2));

#!/usr/bin/env node
// Plain-Node entry point of the generator (no Nx needed).
import { runNewModality } from '../src/cli.mjs';

process.exitCode = runNewModality(process.argv.slice(2));

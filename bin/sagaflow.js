#!/usr/bin/env node
// Entry point of the `sagaflow` command. An installed package runs the compiled `dist/`;
// a source checkout (no dist/) runs the TypeScript sources directly (Node >= 22.18 strips types).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const entry = existsSync(compiled) ? compiled : new URL('../src/cli/main.ts', import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));

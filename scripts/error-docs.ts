// Writes docs/errors.md from the error catalogs (run: node scripts/error-docs.ts).
// A unit test fails when the file is out of date.
import { writeFileSync } from 'node:fs';
import { renderErrorDocs } from '../src/errors-doc.ts';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorDocs());

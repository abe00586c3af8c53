// The dashboard's one page: src/dashboard/page.html (plain HTML, CSS and JavaScript; no build step),
// read from the package folder once. dist/src/dashboard/page.js → ../../../src/dashboard/page.html.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../util/errors.js';

let page: string | null = null;

export function dashboardPage(): string {
  if (page !== null) return page;
  const root = dirname(dirname(dirname(dirname(fileURLToPath(import.meta.url)))));
  const file = join(root, 'src', 'dashboard', 'page.html');
  try {
    return (page = readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TesseraError(`the dashboard page ${file} is missing (${(e as Error).message})`, 'reinstall tessera: the package ships src/dashboard/page.html');
  }
}

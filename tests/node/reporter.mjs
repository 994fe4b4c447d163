// node:test reporter: one JSON line per test (not per describe block) with the same
// fields as the pytest plugin in tests/client-suites/pytest_results.py, written to the
// file named by $CLIENT_SUITE_RESULTS (the reporter's own output stream stays empty).
import { appendFileSync } from 'node:fs';

const out = process.env.CLIENT_SUITE_RESULTS;

function record(data, outcome) {
  if (data.details?.type === 'suite') return;
  const id = `${data.file ? data.file.split('/').pop() : ''}::${data.name}`;
  let message = '';
  if (outcome === 'failed') {
    const err = data.details?.error;
    const cause = err?.cause ?? err;
    message = String(cause?.message ?? cause ?? '').split('\n')[0].slice(0, 300);
  }
  if (out) appendFileSync(out, JSON.stringify({ id, outcome, message }) + '\n');
}

export default async function* reporter(source) {
  for await (const event of source) {
    if (event.type === 'test:pass') {
      record(event.data, event.data.skip || event.data.todo ? 'skipped' : 'passed');
    } else if (event.type === 'test:fail') {
      record(event.data, 'failed');
    }
  }
}
